// SPDX-License-Identifier: GPL-2.0
/*
 * flowgen: real flows through a gateway, fast, for vpnflow's benchmarks.
 *
 * Everything it makes is a packet on a wire (a veth in a network
 * namespace): the gateways in between see, route, encrypt and track them
 * like any other traffic. Frames are crafted and read with AF_PACKET
 * sockets; one process holds sockets in two namespaces (the client and the
 * server side), so a TCP handshake needs no kernel socket at either end.
 * The addresses it uses must not be local in those namespaces (the
 * gateways reach them through static neighbour entries), so that neither
 * kernel answers with a RST.
 *
 *   flowgen tcp   -c NS:DEV -s NS:DEV -g MAC -a SRC -b DST -n N [-d DPORT0] [-w WIN]
 *       N TCP flows SRC:sport -> DST:dport, sport 1024..65535, dport DPORT0
 *       (default 5001) and up: SYN from the client side, SYN-ACK crafted by
 *       the server side, ACK from the client side; lost handshakes are
 *       retried. "established N elapsed_ms T syn_retries R".
 *   flowgen touch -c NS:DEV -g MAC -a SRC -b DST -n N [-d DPORT0]
 *       one in-window ACK per flow of the same N (client to server).
 *   flowgen udp   -c NS:DEV -g MAC -a SRC -b DSTNET -n N [-f FIRST]
 *       N one-packet UDP flows SRC:sport -> DSTNET+k:9 (distinct tuples).
 *   flowgen syn   -c NS:DEV -g MAC -a SRC -b DSTNET -t SECS [-f FIRST]
 *       new-tuple SYNs (MSS 1460) as fast as possible for SECS seconds.
 *       "sent N elapsed_ns T".
 *   flowgen probe -c NS -b DST -i INTERVAL_US -o FILE [-t SECS]
 *       ICMP echo every INTERVAL_US until SIGTERM (or SECS); FILE gets one
 *       line per echo: "send_ns rtt_ns" (CLOCK_MONOTONIC, rtt -1: lost).
 *   flowgen calib
 *       two fixed pointer-chasing loops, memory-bound and cache-resident:
 *       "MEM_NS CPU_NS" per step (host vs guest: the emulation's slowdown
 *       for such code).
 *   flowgen now
 *       CLOCK_MONOTONIC in ns.
 *
 * MAC is the next hop's (the gateway's LAN side) address. Flow i has
 * sport 1024 + i % 64512 and dport DPORT0 + i / 64512; its sequence
 * numbers are a hash of i and of the 4-tuple, so touch knows them.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NSPORT		64512u
#define BATCH		64
#define FRAME		128

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("flowgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* --- options --- */
static struct {
	char cns[64], cdev[IFNAMSIZ], sns[64], sdev[IFNAMSIZ];
	uint8_t gwmac[6];
	uint32_t src, dst;	/* network order */
	unsigned long n, first;
	unsigned int dport0, window, interval_us;
	double secs;
	const char *out;
} opt = { .dport0 = 5001, .window = 256, .interval_us = 1000 };

static void parse_nsdev(const char *arg, char *ns, char *dev)
{
	const char *c = strchr(arg, ':');
	size_t l = c ? (size_t)(c - arg) : strlen(arg);

	if (l >= 64)
		die("bad namespace %s", arg);
	memcpy(ns, arg, l);
	ns[l] = 0;
	if (dev && c)
		snprintf(dev, IFNAMSIZ, "%s", c + 1);
}

static void parse_mac(const char *s, uint8_t *m)
{
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		   &m[5]) != 6)
		die("bad MAC %s", s);
}

static uint32_t parse_ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		die("bad address %s", s);
	return a.s_addr;
}

/* --- namespaces and sockets --- */
static void enter_ns(const char *ns)
{
	char path[128];
	int fd;

	if (!ns[0])
		return;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", path);
	if (setns(fd, CLONE_NEWNET))
		die("setns %s", ns);
	close(fd);
}

struct psock {
	int fd;
	int ifindex;
	uint8_t mac[6];
};

/* An AF_PACKET socket on DEV in namespace NS: sends frames, receives incoming IPv4. */
static void psock_open(struct psock *p, const char *ns, const char *dev)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	struct ifreq ifr = { 0 };
	int one = 1, buf = 8 << 20;

	enter_ns(ns);
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (p->fd < 0)
		die("socket AF_PACKET");
	p->ifindex = if_nametoindex(dev);
	if (!p->ifindex)
		die("no device %s in %s", dev, ns);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
	if (ioctl(p->fd, SIOCGIFHWADDR, &ifr))
		die("SIOCGIFHWADDR %s", dev);
	memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_ifindex = p->ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind %s", dev);
	setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(p->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
}

/* Frames queued for one sendmmsg. */
struct txq {
	struct psock *p;
	unsigned int n;
	uint8_t buf[BATCH][FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msg[BATCH];
	unsigned long sent;
};

static void txq_flush(struct txq *q)
{
	unsigned int done = 0;
	int r;

	while (done < q->n) {
		r = sendmmsg(q->p->fd, q->msg + done, q->n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS || errno == EAGAIN) {
				sched_yield();
				continue;
			}
			die("sendmmsg");
		}
		done += r;
	}
	q->sent += q->n;
	q->n = 0;
}

static uint8_t *txq_next(struct txq *q, size_t len)
{
	uint8_t *b;

	if (q->n == BATCH)
		txq_flush(q);
	b = q->buf[q->n];
	q->iov[q->n].iov_base = b;
	q->iov[q->n].iov_len = len;
	memset(&q->msg[q->n], 0, sizeof(q->msg[q->n]));
	q->msg[q->n].msg_hdr.msg_iov = &q->iov[q->n];
	q->msg[q->n].msg_hdr.msg_iovlen = 1;
	q->n++;
	return b;
}

/* --- packets --- */
static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static void ip_fill(struct iphdr *ip, uint32_t s, uint32_t d, uint8_t proto, size_t l4len)
{
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(*ip) + l4len);
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = s;
	ip->daddr = d;
	ip->frag_off = htons(IP_DF);
	ip->check = csum_fold(csum_add(0, ip, sizeof(*ip)));
}

static uint16_t l4_csum(const struct iphdr *ip, const void *l4, size_t len)
{
	uint32_t sum = 0;
	uint8_t ph[12];

	memcpy(ph, &ip->saddr, 4);
	memcpy(ph + 4, &ip->daddr, 4);
	ph[8] = 0;
	ph[9] = ip->protocol;
	ph[10] = len >> 8;
	ph[11] = len & 0xff;
	sum = csum_add(sum, ph, sizeof(ph));
	sum = csum_add(sum, l4, len);
	return csum_fold(sum);
}

/* An Ethernet + IPv4 + TCP frame into @b; returns its length. */
static uint16_t tcp_window = 64240;

static size_t tcp_frame(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, uint32_t s,
			uint32_t d, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, uint16_t mss)
{
	struct ether_header *eh = (void *)b;
	struct iphdr *ip = (void *)(b + sizeof(*eh));
	struct tcphdr *th = (void *)(ip + 1);
	size_t tl = sizeof(*th) + (mss ? 4 : 0);

	memcpy(eh->ether_dhost, dmac, 6);
	memcpy(eh->ether_shost, smac, 6);
	eh->ether_type = htons(ETHERTYPE_IP);
	ip_fill(ip, s, d, IPPROTO_TCP, tl);
	memset(th, 0, tl);
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff = tl / 4;
	((uint8_t *)th)[13] = flags;
	th->window = htons(tcp_window);
	if (mss) {
		uint8_t *o = (uint8_t *)(th + 1);

		o[0] = 2;
		o[1] = 4;
		o[2] = mss >> 8;
		o[3] = mss & 0xff;
	}
	th->check = l4_csum(ip, th, tl);
	return sizeof(*eh) + sizeof(*ip) + tl;
}

#define F_SYN 0x02
#define F_ACK 0x10

static uint16_t flow_sport(unsigned long i) { return 1024 + i % NSPORT; }
static uint16_t flow_dport(unsigned long i) { return opt.dport0 + i / NSPORT; }
static uint32_t isn_c(unsigned long i) { return mix32(i * 2654435761u + 0x1234567u); }

static uint32_t isn_s(uint32_t s, uint32_t d, uint16_t sport, uint16_t dport)
{
	return mix32(s ^ mix32(d ^ mix32((uint32_t)sport << 16 | dport)));
}

/* The flow index of a client-side port pair, or -1. */
static long flow_index(uint16_t sport, uint16_t dport)
{
	if (sport < 1024 || dport < opt.dport0)
		return -1;
	return (long)(dport - opt.dport0) * NSPORT + (sport - 1024);
}

/* Read one frame; NULL when nothing is queued. @ip/@th point into it. */
static int rx_tcp(int fd, uint8_t *buf, size_t len, struct iphdr **ip, struct tcphdr **th)
{
	ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);

	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return -1;
		die("recv");
	}
	if ((size_t)r < sizeof(struct ether_header) + sizeof(struct iphdr) + sizeof(struct tcphdr))
		return 0;
	*ip = (void *)(buf + sizeof(struct ether_header));
	if ((*ip)->version != 4 || (*ip)->protocol != IPPROTO_TCP)
		return 0;
	*th = (void *)((uint8_t *)*ip + (*ip)->ihl * 4);
	return 1;
}

static void send_syn(struct txq *q, unsigned long i)
{
	uint8_t *b = txq_next(q, 0);

	q->iov[q->n - 1].iov_len = tcp_frame(b, opt.gwmac, q->p->mac, opt.src, opt.dst,
					     flow_sport(i), flow_dport(i), isn_c(i), 0,
					     F_SYN, 1460);
}

static int cmd_tcp(void)
{
	static struct psock c, s;
	static struct txq cq, sq;
	uint8_t *est, buf[2048];
	unsigned long next = 0, nest = 0, retries = 0, lastprog_n = 0, rtx = 0;
	uint64_t t0, lastprog;
	struct iphdr *ip;
	struct tcphdr *th;
	int rounds = 0, r, rtx_on = 0;

	psock_open(&c, opt.cns, opt.cdev);
	psock_open(&s, opt.sns, opt.sdev);
	cq.p = &c;
	sq.p = &s;
	est = calloc(opt.n, 1);
	if (!est)
		die("calloc");
	t0 = lastprog = now_ns();
	while (nest < opt.n) {
		struct pollfd pfd[2] = { { c.fd, POLLIN, 0 }, { s.fd, POLLIN, 0 } };

		if (rtx_on) {
			/* A retransmission pass, a batch at a time. */
			while (rtx < next && cq.n < BATCH) {
				if (!est[rtx]) {
					send_syn(&cq, rtx);
					retries++;
				}
				rtx++;
			}
			if (rtx >= next) {
				rtx_on = 0;
				lastprog = now_ns();
			}
		} else {
			while (next < opt.n && next - nest < opt.window && cq.n < BATCH)
				send_syn(&cq, next++);
		}
		if (cq.n)
			txq_flush(&cq);
		/* Server side: a SYN-ACK for every SYN. */
		while ((r = rx_tcp(s.fd, buf, sizeof(buf), &ip, &th)) >= 0) {
			struct ether_header *eh = (void *)buf;
			uint8_t *b;

			if (!r || ((uint8_t *)th)[13] != F_SYN)
				continue;
			b = txq_next(&sq, 0);
			sq.iov[sq.n - 1].iov_len =
				tcp_frame(b, eh->ether_shost, s.mac, ip->daddr, ip->saddr,
					  ntohs(th->dest), ntohs(th->source),
					  isn_s(ip->saddr, ip->daddr, ntohs(th->source),
						ntohs(th->dest)),
					  ntohl(th->seq) + 1, F_SYN | F_ACK, 1460);
		}
		if (sq.n)
			txq_flush(&sq);
		/* Client side: ACK every SYN-ACK. */
		while ((r = rx_tcp(c.fd, buf, sizeof(buf), &ip, &th)) >= 0) {
			long k;
			uint8_t *b;

			if (!r || ((uint8_t *)th)[13] != (F_SYN | F_ACK) || ip->daddr != opt.src ||
			    ip->saddr != opt.dst)
				continue;
			k = flow_index(ntohs(th->dest), ntohs(th->source));
			if (k < 0 || (unsigned long)k >= opt.n || ntohl(th->ack_seq) != isn_c(k) + 1)
				continue;
			b = txq_next(&cq, 0);
			cq.iov[cq.n - 1].iov_len =
				tcp_frame(b, opt.gwmac, c.mac, opt.src, opt.dst, ntohs(th->dest),
					  ntohs(th->source), isn_c(k) + 1, ntohl(th->seq) + 1,
					  F_ACK, 0);
			if (!est[k]) {
				est[k] = 1;
				nest++;
			}
		}
		if (cq.n)
			txq_flush(&cq);
		if (nest != lastprog_n) {
			lastprog_n = nest;
			lastprog = now_ns();
		} else if (!rtx_on && now_ns() - lastprog > 300000000ull) {
			/* Nothing for 300 ms: resend the SYNs of what is missing. */
			if (++rounds > 50)
				break;
			rtx_on = 1;
			rtx = 0;
		}
		if (rtx_on || (next < opt.n && next - nest < opt.window))
			continue;
		poll(pfd, 2, 2);
	}
	printf("established %lu elapsed_ms %.1f syn_retries %lu\n", nest,
	       (now_ns() - t0) / 1e6, retries);
	return nest == opt.n ? 0 : 1;
}

static int cmd_touch(void)
{
	static struct psock c;
	static struct txq cq;
	unsigned long i;
	uint64_t t0;

	psock_open(&c, opt.cns, opt.cdev);
	cq.p = &c;
	/*
	 * A window of its own for each pass: conntrack counts an ACK identical
	 * to the last one (same seq, ack, window) as a retransmission, and
	 * after tcp_max_retrans of them cuts the entry's timeout to 300 s.
	 */
	tcp_window = 32768 + (now_ns() / 1000) % 30000;
	t0 = now_ns();
	for (i = 0; i < opt.n; i++) {
		uint16_t sp = flow_sport(i), dp = flow_dport(i);
		uint8_t *b = txq_next(&cq, 0);

		cq.iov[cq.n - 1].iov_len =
			tcp_frame(b, opt.gwmac, c.mac, opt.src, opt.dst, sp, dp, isn_c(i) + 1,
				  isn_s(opt.src, opt.dst, sp, dp) + 1, F_ACK, 0);
	}
	txq_flush(&cq);
	printf("touched %lu elapsed_ms %.1f\n", opt.n, (now_ns() - t0) / 1e6);
	return 0;
}

static int cmd_udp(void)
{
	static struct psock c;
	static struct txq cq;
	unsigned long i, k;
	uint64_t t0;

	psock_open(&c, opt.cns, opt.cdev);
	cq.p = &c;
	t0 = now_ns();
	for (i = 0; i < opt.n; i++) {
		uint8_t *b = txq_next(&cq, 0);
		struct ether_header *eh = (void *)b;
		struct iphdr *ip = (void *)(eh + 1);
		struct udphdr *uh = (void *)(ip + 1);

		k = opt.first + i;
		memcpy(eh->ether_dhost, opt.gwmac, 6);
		memcpy(eh->ether_shost, c.mac, 6);
		eh->ether_type = htons(ETHERTYPE_IP);
		ip_fill(ip, opt.src, htonl(ntohl(opt.dst) + k / NSPORT), IPPROTO_UDP,
			sizeof(*uh) + 4);
		uh->source = htons(1024 + k % NSPORT);
		uh->dest = htons(9);
		uh->len = htons(sizeof(*uh) + 4);
		uh->check = 0;
		memcpy(uh + 1, "flow", 4);
		uh->check = l4_csum(ip, uh, sizeof(*uh) + 4);
		cq.iov[cq.n - 1].iov_len = sizeof(*eh) + sizeof(*ip) + sizeof(*uh) + 4;
	}
	txq_flush(&cq);
	printf("sent %lu elapsed_ms %.1f\n", opt.n, (now_ns() - t0) / 1e6);
	return 0;
}

static int cmd_syn(void)
{
	static struct psock c;
	static struct txq cq;
	unsigned long k = opt.first;
	uint64_t t0, end;

	psock_open(&c, opt.cns, opt.cdev);
	cq.p = &c;
	t0 = now_ns();
	end = t0 + (uint64_t)(opt.secs * 1e9);
	do {
		unsigned int j;

		for (j = 0; j < BATCH; j++, k++) {
			uint8_t *b = txq_next(&cq, 0);

			cq.iov[cq.n - 1].iov_len =
				tcp_frame(b, opt.gwmac, c.mac, opt.src,
					  htonl(ntohl(opt.dst) + k / NSPORT), 1024 + k % NSPORT, 80,
					  mix32(k), 0, F_SYN, 1460);
		}
		txq_flush(&cq);
	} while (now_ns() < end);
	printf("sent %lu elapsed_ns %llu next %lu\n", cq.sent,
	       (unsigned long long)(now_ns() - t0), k);
	return 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int cmd_probe(void)
{
	size_t cap = 1 << 20, n = 0, i;
	uint64_t *sent = malloc(cap * sizeof(*sent));
	int64_t *rtt = malloc(cap * sizeof(*rtt));
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = opt.dst };
	uint64_t next, end = 0;
	uint16_t id = getpid() & 0xffff;
	uint8_t buf[2048];
	FILE *f;
	int fd;

	if (!sent || !rtt)
		die("malloc");
	enter_ns(opt.cns);
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		die("socket ICMP");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	next = now_ns();
	if (opt.secs > 0)
		end = next + (uint64_t)(opt.secs * 1e9);
	while (!stop && (!end || now_ns() < end)) {
		uint64_t t = now_ns();
		struct pollfd pfd = { fd, POLLIN, 0 };
		int wait_ms;

		if (t >= next && n < cap) {
			struct icmphdr ih = { .type = ICMP_ECHO };
			uint8_t pkt[sizeof(ih) + 8];

			ih.un.echo.id = htons(id);
			ih.un.echo.sequence = htons(n & 0xffff);
			memcpy(pkt, &ih, sizeof(ih));
			memcpy(pkt + sizeof(ih), &n, 8);
			((struct icmphdr *)pkt)->checksum = csum_fold(csum_add(0, pkt, sizeof(pkt)));
			sent[n] = t;
			rtt[n] = -1;
			sendto(fd, pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
			n++;
			next += opt.interval_us * 1000ull;
			if (next < t)
				next = t + opt.interval_us * 1000ull;	/* we were late: no burst */
		}
		while (1) {
			ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			struct iphdr *ip = (void *)buf;
			struct icmphdr *ih;
			uint64_t k;

			if (r < 0)
				break;
			if ((size_t)r < sizeof(*ip) + sizeof(*ih) + 8)
				continue;
			ih = (void *)(buf + ip->ihl * 4);
			if (ih->type != ICMP_ECHOREPLY || ntohs(ih->un.echo.id) != id)
				continue;
			memcpy(&k, ih + 1, 8);
			if (k < n && rtt[k] < 0)
				rtt[k] = now_ns() - sent[k];
		}
		t = now_ns();
		wait_ms = next > t ? (int)((next - t) / 1000000) : 0;
		if (wait_ms > 0 || next > t) {
			struct timespec ts = { 0, 0 };

			if (wait_ms > 0) {
				poll(&pfd, 1, wait_ms);
			} else {
				ts.tv_nsec = next - t;
				pfd.revents = 0;
				nanosleep(&ts, NULL);
			}
		}
	}
	/* Late replies. */
	for (i = 0; i < 200 && n; i++) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, 5) <= 0)
			break;
		while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			struct iphdr *ip = (void *)buf;
			struct icmphdr *ih = (void *)(buf + ip->ihl * 4);
			uint64_t k;

			if ((size_t)r < sizeof(*ip) + sizeof(*ih) + 8 || ih->type != ICMP_ECHOREPLY ||
			    ntohs(ih->un.echo.id) != id)
				continue;
			memcpy(&k, ih + 1, 8);
			if (k < n && rtt[k] < 0)
				rtt[k] = now_ns() - sent[k];
		}
	}
	f = fopen(opt.out, "w");
	if (!f)
		die("open %s", opt.out);
	for (i = 0; i < n; i++)
		fprintf(f, "%llu %lld\n", (unsigned long long)sent[i], (long long)rtt[i]);
	fclose(f);
	return 0;
}

struct cnode {
	struct cnode *next;
	unsigned long v[3];
};

/* ns per step of a pointer chase over @n nodes in random order, with a write per step. */
static double chase(unsigned int n, unsigned int steps)
{
	struct cnode *a = malloc(n * sizeof(*a)), *p;
	unsigned int *perm = malloc(n * sizeof(*perm)), i, j, t;
	uint64_t t0;
	double r;

	if (!a || !perm)
		die("malloc");
	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = mix32(i) % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < n; i++)
		a[perm[i]].next = &a[perm[(i + 1) % n]];
	p = &a[perm[0]];
	t0 = now_ns();
	for (i = 0; i < steps; i++) {
		p->v[0] += mix32(i + p->v[1]);
		p = p->next;
	}
	r = (now_ns() - t0) / (double)steps + (p == NULL);
	free(a);
	free(perm);
	return r;
}

/*
 * Two loops, host vs guest: a chase over 1 M nodes (memory-bound: the
 * emulator adds little) and over 4 k nodes (cache-resident: mostly the
 * cost of emulating instructions). "MEM_NS CPU_NS".
 */
static int cmd_calib(void)
{
	double mem = chase(1 << 20, 4 << 20), cpu = chase(1 << 12, 16 << 20);

	printf("%.2f %.2f\n", mem, cpu);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int o;

	if (argc < 2)
		die("usage: flowgen tcp|touch|udp|syn|probe|calib|now [options]");
	cmd = argv[1];
	optind = 2;
	while ((o = getopt(argc, argv, "c:s:g:a:b:n:f:d:w:t:i:o:")) != -1) {
		switch (o) {
		case 'c': parse_nsdev(optarg, opt.cns, opt.cdev); break;
		case 's': parse_nsdev(optarg, opt.sns, opt.sdev); break;
		case 'g': parse_mac(optarg, opt.gwmac); break;
		case 'a': opt.src = parse_ip(optarg); break;
		case 'b': opt.dst = parse_ip(optarg); break;
		case 'n': opt.n = strtoul(optarg, NULL, 0); break;
		case 'f': opt.first = strtoul(optarg, NULL, 0); break;
		case 'd': opt.dport0 = strtoul(optarg, NULL, 0); break;
		case 'w': opt.window = strtoul(optarg, NULL, 0); break;
		case 't': opt.secs = strtod(optarg, NULL); break;
		case 'i': opt.interval_us = strtoul(optarg, NULL, 0); break;
		case 'o': opt.out = optarg; break;
		default: exit(2);
		}
	}
	errno = 0;
	if (!strcmp(cmd, "tcp"))
		return cmd_tcp();
	if (!strcmp(cmd, "touch"))
		return cmd_touch();
	if (!strcmp(cmd, "udp"))
		return cmd_udp();
	if (!strcmp(cmd, "syn"))
		return cmd_syn();
	if (!strcmp(cmd, "probe")) {
		if (!opt.out)
			die("probe needs -o FILE");
		return cmd_probe();
	}
	if (!strcmp(cmd, "calib"))
		return cmd_calib();
	if (!strcmp(cmd, "now")) {
		printf("%llu\n", (unsigned long long)now_ns());
		return 0;
	}
	die("unknown command %s", cmd);
}
