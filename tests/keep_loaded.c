/* Preloaded by tests/sanitize_check.sh: dlclose() keeps the library loaded.
 * Mesa's OpenCL drivers free some memory only at exit and unload their
 * modules before LeakSanitizer reports, so a leak inside them shows as
 * "<unknown module>" and no suppression in tests/lsan.supp (which names the
 * libraries) can match it. With the modules still mapped, every report names
 * its library: the runtimes' own leaks are suppressed by name, and ours are
 * still reported. */
int dlclose(void *handle);

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
