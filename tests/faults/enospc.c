/* LD_PRELOAD fault injection for machines where no small file system can be
 * mounted: once KB_ENOSPC_AFTER_BYTES bytes have been written to files whose
 * name ends in ".incomplete" (the cache's downloads in progress), every further
 * write to such a file fails with ENOSPC, as on a full disk. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long written;

static int is_download(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  size_t suffix = strlen(".incomplete");
  return (size_t)n > suffix && strcmp(target + n - suffix, ".incomplete") == 0;
}

ssize_t write(int fd, const void* buf, size_t count) {
  static ssize_t (*real_write)(int, const void*, size_t);
  if (!real_write) real_write = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  const char* limit = getenv("KB_ENOSPC_AFTER_BYTES");
  if (limit && is_download(fd)) {
    long long room = atoll(limit) - written;
    if (room <= 0) {
      errno = ENOSPC;
      return -1;
    }
    if ((long long)count > room) count = (size_t)room;
    ssize_t n = real_write(fd, buf, count);
    if (n > 0) written += n;
    return n;
  }
  return real_write(fd, buf, count);
}
