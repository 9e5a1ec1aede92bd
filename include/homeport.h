/* homeport.h - project-wide constants. */
#ifndef HP_HOMEPORT_H
#define HP_HOMEPORT_H

#define HP_VERSION "0.1.0"
#define HP_USER_AGENT "homeport/" HP_VERSION

#define HP_DEFAULT_CONFIG "/etc/homeport/homeport.conf"
#define HP_DEFAULT_STATE_DIR "/var/lib/homeport"
#define HP_DEFAULT_SOCKET "/run/homeport/homeportd.sock"

/* sysexits(3) */
#define HP_EXIT_OK 0
#define HP_EXIT_FAIL 1
#define HP_EXIT_USAGE 64
#define HP_EXIT_UNAVAILABLE 69
#define HP_EXIT_CONFIG 78

#define HP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* An AddressSanitizer build (gcc or clang). */
#if defined(__SANITIZE_ADDRESS__)
#define HP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HP_ASAN 1
#endif
#endif

#endif
