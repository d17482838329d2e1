/* Names of OpenCL status codes, for error messages. */
#ifndef CLRESNET_RUNTIME_CL_STATUS_H
#define CLRESNET_RUNTIME_CL_STATUS_H

/* The name of an OpenCL status code, e.g. "CL_OUT_OF_RESOURCES". */
const char *crn_cl_strerror(int cl_status);

#endif
