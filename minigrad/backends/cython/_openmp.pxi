# Included (textually) by the Cython modules that run OpenMP threads. Built without
# OpenMP (a compiler without -fopenmp), a parallel region runs on one thread, the
# functions below say so, and the backend never asks for threads (threads() is 1).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int mg_max_threads(void) { return omp_get_max_threads(); }
    static int mg_thread(void) { return omp_get_thread_num(); }
    static int mg_team(void) { return omp_get_num_threads(); }
    static void mg_barrier(void) {
        #pragma omp barrier
    }
    #else
    static int mg_max_threads(void) { return 1; }
    static int mg_thread(void) { return 0; }
    static int mg_team(void) { return 1; }
    static void mg_barrier(void) {}
    #endif
    """
    int mg_max_threads() noexcept nogil  # threads a region would get (OMP_NUM_THREADS, else the cores)
    int mg_thread() noexcept nogil       # this thread's number in its region, 0 ..
    int mg_team() noexcept nogil         # the threads in this region
    void mg_barrier() noexcept nogil     # wait until every thread of the region is here (an orphaned
                                         # "omp barrier": it binds to the region it is called in)


def threads():
    """How many threads this module's parallel loops run on: OpenMP's count (OMP_NUM_THREADS,
    else one per core); 1 when this module was built without OpenMP."""
    return mg_max_threads()
