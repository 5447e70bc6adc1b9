# Shared by the Cython modules: status codes to Python exceptions.
cdef int check_status(fs_status st, str where) except -1:
    if st == FS_OK:
        return 0
    if st == FS_ERR_ARG:
        raise ValueError(f"{where}: invalid argument")
    if st == FS_ERR_NOMEM:
        raise MemoryError(f"{where}: out of memory")
    if st == FS_ERR_NONFINITE:
        raise FloatingPointError(f"{where}: values became NaN or infinite (lower the learning rate)")
    raise RuntimeError(f"{where}: unknown status {<int>st}")
