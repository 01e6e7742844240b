/* tlsclient: the load generator of `cargo xtask bench` (docs/performance.md).
 *
 * A tight OpenSSL client, so that what is measured is libssl and the probes on it, not an
 * interpreter. Certificates are not verified (the servers are local test servers).
 *
 *   tlsclient write PORT COUNT SIZE          COUNT SSL_write calls of SIZE bytes
 *   tlsclient llm PORT COUNT REQ EVENTS       COUNT keep-alive LLM-shaped exchanges
 *   (both print "WALL_NS CPU_NS" of the timed loop)
 *   tlsclient rate PORT SECONDS RATE REQ EVENTS
 *                                             paced exchanges at RATE/s; prints "sent done"
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "tlsclient: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time (user + system) of this process: probe handlers run in the caller's context, so
 * this is what the probes cost the application, independent of how loaded the machine is. */
static long long cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
           ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static SSL *connect_tls(int port) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) die("SSL_connect");
    return ssl;
}

static void write_all(SSL *ssl, const char *buf, int len) {
    while (len > 0) {
        int n = SSL_write(ssl, buf, len);
        if (n <= 0) die("SSL_write");
        buf += n;
        len -= n;
    }
}

/* An OpenAI chat-completions streaming request whose body is `body_len` bytes. */
static char *make_request(int body_len, int events, int *out_len) {
    const char *pre = "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                      "\"messages\":[{\"role\":\"system\",\"content\":\"";
    const char *post = "\"},{\"role\":\"user\",\"content\":\"Summarise the document above.\"}]}";
    int fill = body_len - (int)strlen(pre) - (int)strlen(post);
    if (fill < 0) fill = 0;
    int blen = (int)strlen(pre) + fill + (int)strlen(post);
    char head[512];
    int hlen = snprintf(head, sizeof head,
                        "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
                        "Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\n"
                        "Accept: text/event-stream\r\nx-events: %d\r\nContent-Length: %d\r\n\r\n",
                        events, blen);
    char *req = malloc((size_t)(hlen + blen));
    if (!req) die("malloc");
    memcpy(req, head, (size_t)hlen);
    char *p = req + hlen;
    memcpy(p, pre, strlen(pre));
    p += strlen(pre);
    for (int i = 0; i < fill; i++) p[i] = "lorem ipsum "[i % 12];
    p += fill;
    memcpy(p, post, strlen(post));
    *out_len = hlen + blen;
    return req;
}

/* Read one chunked response, up to and including its terminating zero-size chunk. */
static void read_response(SSL *ssl, char *buf, int cap) {
    int have = 0;
    for (;;) {
        if (have > cap - 16384) {
            /* keep the tail only: the terminator is all we look for */
            memmove(buf, buf + have - 16, 16);
            have = 16;
        }
        int n = SSL_read(ssl, buf + have, cap - have);
        if (n <= 0) die("SSL_read");
        have += n;
        if (have >= 7 && memcmp(buf + have - 7, "\r\n0\r\n\r\n", 7) == 0) return;
    }
}

int main(int argc, char **argv) {
    if (argc < 5) die("usage: see the comment at the top of tlsclient.c");
    signal(SIGPIPE, SIG_IGN);
    const char *mode = argv[1];
    int port = atoi(argv[2]);
    SSL *ssl = connect_tls(port);
    if (strcmp(mode, "write") == 0) {
        long count = atol(argv[3]);
        int size = atoi(argv[4]);
        char *buf = malloc((size_t)size);
        if (!buf) die("malloc");
        memset(buf, 'x', (size_t)size);
        long long t0 = now_ns(), c0 = cpu_ns();
        for (long i = 0; i < count; i++) write_all(ssl, buf, size);
        long long t1 = now_ns(), c1 = cpu_ns();
        printf("%lld %lld\n", t1 - t0, c1 - c0);
    } else if (strcmp(mode, "llm") == 0 && argc >= 6) {
        long count = atol(argv[3]);
        int len;
        char *req = make_request(atoi(argv[4]), atoi(argv[5]), &len);
        static char buf[1 << 20];
        long long t0 = now_ns(), c0 = cpu_ns();
        for (long i = 0; i < count; i++) {
            write_all(ssl, req, len);
            read_response(ssl, buf, sizeof buf);
        }
        long long t1 = now_ns(), c1 = cpu_ns();
        printf("%lld %lld\n", t1 - t0, c1 - c0);
    } else if (strcmp(mode, "rate") == 0 && argc >= 7) {
        double seconds = atof(argv[3]);
        double rate = atof(argv[4]);
        int len;
        char *req = make_request(atoi(argv[5]), atoi(argv[6]), &len);
        static char buf[1 << 20];
        long long interval = (long long)(1e9 / rate);
        long long start = now_ns(), next = start, end = start + (long long)(seconds * 1e9);
        long sent = 0, done = 0;
        while (next < end) {
            long long t = now_ns();
            if (t < next) {
                struct timespec ts = {(time_t)((next - t) / 1000000000LL), (long)((next - t) % 1000000000LL)};
                nanosleep(&ts, NULL);
            }
            sent++;
            write_all(ssl, req, len);
            read_response(ssl, buf, sizeof buf);
            done++;
            next += interval;
        }
        printf("%ld %ld\n", sent, done);
    } else {
        die("unknown mode");
    }
    fflush(stdout);
    SSL_shutdown(ssl);
    return 0;
}
