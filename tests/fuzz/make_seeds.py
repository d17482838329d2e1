#!/usr/bin/env python3
"""Writes the small seed corpora of the safetensors, checkpoint, class-name
and command-line harnesses and the hand-made .mat seeds (plain Python 3, no
torch). Run from the repository root: python3 tests/fuzz/make_seeds.py"""
import json
import os
import struct
import zlib

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
M64 = (1 << 64) - 1


def fnv(h, b):
    for c in b:
        h ^= c
        h = (h * 0x100000001b3) & M64
    return h


INIT = 0xcbf29ce484222325


def st(tensors, meta=None, pad=True):
    """tensors: list of (name, dtype, shape, bytes) -> safetensors bytes"""
    hdr, off, data = {}, 0, b''
    if meta is not None:
        hdr['__metadata__'] = meta
    for name, dt, shape, raw in tensors:
        hdr[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(hdr, separators=(',', ':')).encode()
    if pad:
        h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + data


def write(sub, name, b):
    with open(os.path.join(D, sub, name), 'wb') as f:
        f.write(b)


f32 = lambda *v: struct.pack('<%df' % len(v), *v)
T = [('w', 'F32', [2, 3], f32(1, 2, 3, 4, 5, 6)), ('b', 'F64', [2], struct.pack('<2d', 0.5, -1)),
     ('n', 'I64', [], struct.pack('<q', 7)), ('i', 'I32', [1, 2], struct.pack('<2i', 3, -4)),
     ('u', 'U8', [3], b'\x01\x02\x03'), ('e', 'F32', [0, 4], b'')]
write('safetensors', 'mixed.safetensors', st(T, {'made_by': 'make_seeds.py'}))
write('safetensors', 'one.safetensors', st([('x', 'F32', [1], f32(1))], pad=False))
write('safetensors', 'empty_header.safetensors', st([]))

# checkpoint metadata, as crn_checkpoint_save writes it (with both checksums)
meta = {'clresnet': 'checkpoint-1', 'model': 'baseline', 'act': 'relu', 'final_act': '1', 'classes': '3',
        'width': '0.25', 'image_size': '32', 'run.epoch': '1', 'run.step': '3',
        'config': json.dumps({'model': 'baseline', 'act': 'relu', 'batch_size': 8})}
tens = [('fc.weight', 'F32', [3, 2], f32(*range(6))), ('fc.bias', 'F32', [3], f32(0, 0, 1))]


def with_sums(meta, tens):
    m = dict(meta)
    s = 0
    for k, v in m.items():
        s = (s + fnv(fnv(INIT, k.encode() + b'\0'), v.encode())) & M64
    m['meta_checksum'] = '%016x' % s
    h = INIT
    for name, _, _, raw in tens:
        h = fnv(fnv(h, name.encode()), raw)
    m['checksum'] = '%016x' % h
    return m


write('checkpoint', 'checked.safetensors', st(tens, with_sums(meta, tens)))
write('checkpoint', 'unchecked.safetensors', st(tens, meta))
m2 = dict(meta, model='resnet50', act='silu', final_act='0', width='1', classes='102')
del m2['config']
write('checkpoint', 'resnet50_silu.safetensors', st(tens[:1], with_sums(m2, tens[:1])))

# cat_to_name.json: first byte = class count - 1 (mod 102)
names = {'1': 'pink primrose', '2': 'hard-leaved pocket orchid', '3': 'canterbury bells'}
write('classnames', 'three.json', bytes([2]) + json.dumps(names).encode())
write('classnames', 'missing.json', bytes([3]) + json.dumps(names).encode())
write('classnames', 'not_string.json', bytes([1]) + b'{"1": "a", "2": 5}')
write('classnames', 'unicode.json', bytes([0]) + '{"1": "\u00e9t\u00e9 \\u0000 x"}'.encode())

# `clresnet train` arguments, NUL-separated
cl = [['--model', 'baseline', '--width', '0.25', '--image-size', '32', '--batch-size', '8', '--no-augment'],
      ['--optimizer', 'sgd', '--momentum', '0.9', '--lr', '1e-2', '--epochs', '3', '--max-steps', '10'],
      ['--hflip', '0.5', '--rotation', '15', '--grayscale', '0.1', '--brightness', '0.2', '--contrast', '0.2',
       '--saturation', '0.2', '--plateau-factor', '0.1', '--plateau-patience', '10', '--early-stop', '15'],
      ['--resume', '/nonexistent-run', '--epochs', '5', '--workers', '2'],
      ['--split', 'official', '--act', 'silu', '--no-final-act', '--seed', '42', '--beta1', '0.9', '--eps', '1e-8'],
      ['--lr'], ['extra']]
for i, a in enumerate(cl):
    write('cli', 'args%d' % i, '\0'.join(a).encode())

# level-5 .mat files beside the matio-written ones: both byte orders,
# uncompressed, small-format elements, a complex variable, integer classes
MI = {'i8': (1, 'b'), 'u8': (2, 'B'), 'i16': (3, 'h'), 'u16': (4, 'H'), 'i32': (5, 'i'), 'u32': (6, 'I'),
      'f32': (7, 'f'), 'f64': (9, 'd')}
MX = {'double': 6, 'single': 7, 'int16': 10, 'uint8': 9, 'int32': 12}


def sub(e, dtype, raw):
    """one subelement: the small format when it holds at most 4 bytes"""
    if 0 < len(raw) <= 4:
        return struct.pack(e + 'I', len(raw) << 16 | dtype) + raw.ljust(4, b'\0')
    return struct.pack(e + 'II', dtype, len(raw)) + raw + b'\0' * (-len(raw) % 8)


def mat_var(e, name, cls, dt, vals, imag=None, compressed=True):
    code, f = MI[dt]
    data = lambda v: struct.pack(e + '%d%s' % (len(v), f), *v)
    body = (sub(e, 6, struct.pack(e + 'II', MX[cls] | (0x800 if imag else 0), 0)) +
            sub(e, 5, struct.pack(e + 'ii', 1, len(vals))) + sub(e, 1, name.encode()) + sub(e, code, data(vals)))
    if imag:
        body += sub(e, code, data(imag))
    el = struct.pack(e + 'II', 14, len(body)) + body
    if not compressed:
        return el
    z = zlib.compress(el)
    return struct.pack(e + 'II', 15, len(z)) + z


def mat_file(e, *vars):
    ver = b'\x00\x01IM' if e == '<' else b'\x01\x00MI'
    return b'MATLAB 5.0 MAT-file, make_seeds.py'.ljust(116) + b'\0' * 8 + ver + b''.join(vars)


ids = list(range(1, 21))
write('mat', 'be_setid.mat', mat_file('>', mat_var('>', 'trnid', 'double', 'u16', ids[:5]),
                                      mat_var('>', 'valid', 'double', 'u16', ids[5:10]),
                                      mat_var('>', 'tstid', 'double', 'u16', ids[10:])))
write('mat', 'raw_labels.mat', mat_file('<', mat_var('<', 'x', 'double', 'u8', [7], compressed=False),
                                        mat_var('<', 'labels', 'double', 'f64', [1, 5, 102, 3], compressed=False)))
write('mat', 'complex_int.mat', mat_file('<', mat_var('<', 'z', 'double', 'f64', [1, 2], imag=[3, 4]),
                                         mat_var('<', 'labels', 'int16', 'i16', [3, 1, 2, 2, 101])))
write('mat', 'single_setid.mat', mat_file('<', mat_var('<', 'tstid', 'single', 'f32', ids[10:]),
                                          mat_var('<', 'trnid', 'int32', 'i32', ids[:5], compressed=False),
                                          mat_var('<', 'valid', 'uint8', 'u8', ids[5:10])))
