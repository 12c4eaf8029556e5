/*
 * session.c: every rule of the SMTP conversation (RFC 5321 with SIZE,
 * 8BITMIME, PIPELINING and ENHANCEDSTATUSCODES): the command table, the
 * session states, the DATA byte machine, the transaction's envelope and the
 * error budget.  Each handler first checks (sequence, syntax, limits) and
 * replies without touching state when something is wrong; only then does it
 * proceed.  All input arrives through struct input and all output leaves
 * through struct reply; the spool is reached through store.c.
 */
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "decimal.h"
#include "session.h"
#include "users.h"

/* The session has ended: no more commands are read. */
static void session_end(struct session *s)
{
	s->state = S_DONE;
}

const char *session_state_name(enum session_state st)
{
	switch (st) {
	case S_START: return "start";
	case S_READY: return "ready";
	case S_MAIL: return "mail";
	case S_DONE: return "done";
	}
	return "?";
}

static const char *escaped(char *buf, size_t size, const char *s)
{
	return log_escape(buf, size, s, strlen(s));
}

static void transaction_reset(struct session *s)
{
	store_abort(s->store, &s->msg);
	s->sender.mailbox[0] = '\0';
	s->sender.local_len = 0;
	s->sender.domain = NULL;
	s->nrcpts = 0;
	s->rcpt_refused = 0;
	if (s->state == S_MAIL)
		s->state = S_READY;
}

/* Close with a 421-class reply (every disconnect we start says why). */
static void close_with(struct session *s, enum reply_id why)
{
	char peer[64];

	reply_send(&s->out, why, s->cfg->hostname);
	session_end(s);
	log_line(s->cfg->log, LOG_NOTICE, "closing: %d %s (peer %s)",
		 reply_code(why), why == R_SHUTDOWN ? "shutdown" :
		 why == R_TIMEOUT ? "timeout" : "limit",
		 escaped(peer, sizeof peer, s->cfg->peer));
}

static void input_failed(struct session *s, long status);

/*
 * A command was refused.  Each refusal spends the error budget: past the
 * soft limit every refusal is delayed before its reply (a tarpit costs a
 * flood more than it costs us); after the reply, at the hard limit, the
 * session ends (Postfix's error_count).  refuse() is the one-line case;
 * a multi-line refusal (553) brackets its lines with begin and end.
 */
static int refusal_begin(struct session *s)
{
	const struct config *c = s->cfg;

	s->errors++;
	if (s->errors > c->soft_errors && c->error_delay_ms > 0 &&
	    s->in.io->pause != NULL) {
		reply_flush(&s->out);
		int r = s->in.io->pause(s->in.io->ctx, c->error_delay_ms);
		if (r < 0 && r != IO_SIGNAL) {
			/* The session's time ran out in the delay: that is
			 * the answer, not the refusal. */
			input_failed(s, r);
			return -1;
		}
		/* After a signal the refusal under way still goes out; the
		 * next wait for input answers the signal with 421. */
	}
	return 0;
}

static void refusal_end(struct session *s)
{
	if (s->cfg->hard_errors > 0 && s->errors >= s->cfg->hard_errors)
		close_with(s, R_TOO_MANY_ERRORS);
}

static void refuse(struct session *s, enum reply_id id, const char *arg)
{
	if (refusal_begin(s) < 0)
		return;
	reply_send(&s->out, id, arg);
	refusal_end(s);
}

/* ---- HELO, EHLO ---- */

/* RFC 5321 asks for a domain or address literal; real clients send bare
 * host names, underscores and worse, and refusing them loses mail.  We take
 * one token of printable ASCII, which is all the Received: line needs. */
static int helo_name_ok(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n >= sizeof ((struct session *)0)->helo)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (arg[i] <= ' ' || arg[i] > '~')
			return 0;
	return 1;
}

static int greet(struct session *s, const char *arg, int esmtp)
{
	/* The first greeting is the session's; every further one costs
	 * nothing to send and resets the transaction, so a loop of EHLO,
	 * MAIL, RCPT would otherwise run until the session deadline. */
	if (s->state != S_START && s->cfg->junk_limit > 0 &&
	    ++s->junk > s->cfg->junk_limit) {
		close_with(s, R_TOO_MANY_JUNK);
		return 0;
	}
	if (!helo_name_ok(arg)) {
		refuse(s, R_SYNTAX, esmtp ? "Syntax: EHLO <domain>" :
					    "Syntax: HELO <domain>");
		return 0;
	}
	/* A second HELO/EHLO resets the transaction (RFC 5321 4.1.4). */
	transaction_reset(s);
	s->state = S_READY;
	s->esmtp = esmtp;
	s->out.enhanced = esmtp;
	snprintf(s->helo, sizeof s->helo, "%s", arg);
	return 1;
}

static void cmd_helo(struct session *s, char *arg)
{
	if (greet(s, arg, 0))
		reply_send(&s->out, R_HELO, s->cfg->hostname);
}

static void cmd_ehlo(struct session *s, char *arg)
{
	char size[40];

	if (!greet(s, arg, 1))
		return;
	snprintf(size, sizeof size, "SIZE %llu", s->cfg->max_size);
	reply_line(&s->out, 250, NULL, 1, s->cfg->hostname);
	reply_line(&s->out, 250, NULL, 1, size);
	reply_line(&s->out, 250, NULL, 1, "8BITMIME");
	reply_line(&s->out, 250, NULL, 1, "PIPELINING");
	reply_line(&s->out, 250, NULL, 1, "ENHANCEDSTATUSCODES");
	reply_line(&s->out, 250, NULL, 1, "SOML");
	reply_line(&s->out, 250, NULL, 1, "SAML");
	if (s->cfg->vrfy && s->cfg->users != NULL)
		reply_line(&s->out, 250, NULL, 1, "VRFY");
	if (s->cfg->expn && s->cfg->users != NULL)
		reply_line(&s->out, 250, NULL, 1, "EXPN");
	reply_line(&s->out, 250, NULL, 0, "HELP");
}

/* ---- MAIL, RCPT ---- */

/* "FROM:" or "TO:" then the path; a space after the colon is tolerated. */
static const char *path_start(const char *arg, const char *keyword)
{
	size_t k = strlen(keyword);

	if (strncasecmp(arg, keyword, k) != 0)
		return NULL;
	arg += k;
	while (*arg == ' ')
		arg++;
	return arg;
}

/* "FROM:<path>" or "TO:<path>": parse the path into *a, leaving *rest at
 * what follows it; on a syntax error reply and return 0. */
static int command_path(struct session *s, const char *arg, const char *keyword,
			const char *syntax, struct address *a, const char **rest)
{
	const char *p = path_start(arg, keyword);
	enum address_result r;

	if (p == NULL || *p != '<') {
		refuse(s, R_SYNTAX, syntax);
		return 0;
	}
	r = address_parse(p, a, rest);
	if (r != ADDRESS_OK) {
		int sender = keyword[0] == 'F';
		refuse(s, r == ADDRESS_LONG ? (sender ? R_SENDER_LONG : R_ADDRESS_LONG) :
					      (sender ? R_BAD_SENDER : R_BAD_ADDRESS), NULL);
		return 0;
	}
	return 1;
}

/* SIZE= and BODY= (RFC 1870, RFC 6152); only after EHLO. */
static int mail_parameters(struct session *s, char *p, unsigned long long *size)
{
	int seen_size = 0, seen_body = 0;

	while (*p != '\0') {
		char *word;
		if (*p != ' ') {
			refuse(s, R_SYNTAX, "Syntax: MAIL FROM:<address> [parameters]");
			return 0;
		}
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		word = p;
		while (*p != ' ' && *p != '\0')
			p++;
		char save = *p;
		*p = '\0';
		if (!s->esmtp) {
			refuse(s, R_BAD_PARAMETER, "MAIL parameters need EHLO");
			return 0;
		}
		if (strncasecmp(word, "SIZE=", 5) == 0 && !seen_size) {
			const char *digits = word + 5;
			unsigned long long v;
			int overflow;
			/* Up to 20 digits (RFC 1870); past 2^64 the value is
			 * ULLONG_MAX, which is too big, not a syntax error. */
			const char *end = decimal(digits, &v, &overflow);
			if (end == digits || *end != '\0' || end - digits > 20) {
				refuse(s, R_SYNTAX, "Syntax: SIZE=<number>");
				return 0;
			}
			*size = v;
			seen_size = 1;
		} else if (strncasecmp(word, "BODY=", 5) == 0 && !seen_body) {
			if (strcasecmp(word + 5, "7BIT") != 0 &&
			    strcasecmp(word + 5, "8BITMIME") != 0) {
				refuse(s, R_BAD_PARAMETER, "BODY must be 7BIT or 8BITMIME");
				return 0;
			}
			seen_body = 1;
		} else if ((strncasecmp(word, "SIZE=", 5) == 0 && seen_size) ||
			   (strncasecmp(word, "BODY=", 5) == 0 && seen_body)) {
			refuse(s, R_SYNTAX, "Parameter given twice");
			return 0;
		} else {
			refuse(s, R_BAD_PARAMETER, "Unsupported parameter");
			return 0;
		}
		*p = save;
	}
	return 1;
}

/* MAIL, and SOML and SAML, which are MAIL when nobody is logged in. */
static void cmd_mail(struct session *s, char *arg)
{
	struct address a;
	const char *rest;
	unsigned long long size = 0;

	if (s->state == S_START) {
		refuse(s, R_NEED_HELO, NULL);
		return;
	}
	if (s->state == S_MAIL) {
		refuse(s, R_NESTED_MAIL, NULL);
		return;
	}
	if (!command_path(s, arg, "FROM:", "Syntax: MAIL FROM:<address>", &a, &rest))
		return;
	if (a.local_len > 0 && a.domain == NULL) {	/* <postmaster> */
		refuse(s, R_BAD_SENDER, NULL);
		return;
	}
	if (!mail_parameters(s, (char *)rest, &size))
		return;
	if (size > s->cfg->max_size) {
		refuse(s, R_TOO_BIG, NULL);
		return;
	}
	if (s->cfg->min_free > 0) {
		long long avail = store_free_bytes(s->store);
		if (avail >= 0 && (unsigned long long)avail < s->cfg->min_free) {
			log_line(s->cfg->log, LOG_WARNING,
				 "spool has %lld bytes free, below the floor of %llu",
				 avail, s->cfg->min_free);
			refuse(s, R_LOW_SPACE, NULL);
			return;
		}
	}
	s->sender = a;
	s->sender.domain = a.domain ? s->sender.mailbox + a.local_len + 1 : NULL;
	s->nrcpts = 0;
	s->rcpt_refused = 0;
	s->state = S_MAIL;
	reply_send(&s->out, R_MAIL_OK, NULL);
}

static int domain_is_ours(const struct config *c, const char *domain)
{
	for (size_t i = 0; i < c->ndomains; i++)
		if (address_domain_equal(domain, c->domains[i]))
			return 1;
	return 0;
}

/* m without the quoting of its local part: "al"@d and al@d are one
 * mailbox (RFC 5321 4.1.2: the quotes are syntax, not part of the name). */
static void unquote(const char *m, char *out, size_t size)
{
	size_t n = 0;

	if (*m == '"') {
		for (m++; *m != '\0' && *m != '"' && n + 1 < size; m++) {
			if (*m == '\\' && m[1] != '\0')
				m++;
			out[n++] = *m;
		}
		if (*m == '"')
			m++;
	}
	while (*m != '\0' && n + 1 < size)
		out[n++] = *m++;
	out[n] = '\0';
}

/*
 * Are two unquoted mailboxes one?  The domain's case never matters, nor
 * postmaster's (RFC 5321 4.5.1).  Other local parts keep their case (RFC
 * 5321 2.4: for some hosts smith and Smith are two users, and only the
 * delivering host may fold them), except with a users table, whose keys
 * match without it: there the table says who is who.
 */
static int same_mailbox(const char *x, const char *y, int fold_local)
{
	const char *ax = strrchr(x, '@'), *ay = strrchr(y, '@');
	size_t lx = ax != NULL ? (size_t)(ax - x) : strlen(x);
	size_t ly = ay != NULL ? (size_t)(ay - y) : strlen(y);

	if (lx != ly || (ax == NULL) != (ay == NULL))
		return 0;
	if (lx == 10 && strncasecmp(x, "postmaster", 10) == 0)
		fold_local = 1;
	if (fold_local ? strncasecmp(x, y, lx) != 0 : memcmp(x, y, lx) != 0)
		return 0;
	return ax == NULL || strcasecmp(ax, ay) == 0;
}

/* Is mailbox in the envelope?  Quoting does not matter ("al"@d is al@d). */
static int envelope_has(const struct session *s, const char *mailbox)
{
	char a[ADDRESS_MAX + 1], b[ADDRESS_MAX + 1];

	unquote(mailbox, a, sizeof a);
	for (unsigned i = 0; i < s->nrcpts; i++) {
		const char *r = s->rcpts[i];
		if (*r == '"') {
			unquote(r, b, sizeof b);
			r = b;
		}
		if (same_mailbox(r, a, s->cfg->users != NULL))
			return 1;
	}
	return 0;
}

/* Add one address to the envelope; a repeat is spooled once.  Past
 * RCPTS_INLINE, the list is allocated at the first recipient, at its full
 * bound, so a session that sends no mail never pays for it. */
static int envelope_add(struct session *s, const char *mailbox)
{
	if (envelope_has(s, mailbox))
		return 1;
	if (s->nrcpts >= s->cfg->max_recipients)
		return 0;
	if (s->rcpts == NULL) {
		if (s->cfg->max_recipients <= RCPTS_INLINE)
			s->rcpts = s->rcpt_inline;
		else
			s->rcpts = malloc((size_t)s->cfg->max_recipients * sizeof *s->rcpts);
		if (s->rcpts == NULL)
			return -1;
	}
	snprintf(s->rcpts[s->nrcpts++], sizeof s->rcpts[0], "%s", mailbox);
	return 1;
}

/* users_expand()'s add(): 0, -1 past --max-recipients, -2 out of memory. */
static int envelope_add_cb(void *ctx, const char *mailbox)
{
	int r = envelope_add(ctx, mailbox);

	return r == 1 ? 0 : r == 0 ? -1 : -2;
}

/* postmaster, or with --recipient-delimiter postmaster+anything: as
 * alice+x reaches alice, postmaster+x reaches postmaster. */
static int postmaster_or_extension(const struct session *s, const struct address *a)
{
	const char *delim = s->cfg->recipient_delimiter;

	return address_is_postmaster(a) ||
	       (delim != NULL && a->local_len > 10 &&
		strncasecmp(a->mailbox, "postmaster", 10) == 0 &&
		strchr(delim, a->mailbox[10]) != NULL);
}

/*
 * A recipient at one of our domains, with a users table: 250 for a user or
 * a group (spooled for every member), 251 for a forward (spooled for its
 * target), 551 for one who moved, 550 for nobody.  postmaster is accepted
 * whether listed or not (RFC 5321 4.5.1).  Either every address the entry
 * expands to fits under --max-recipients, or none is added (452).
 */
static void rcpt_from_table(struct session *s, const struct address *a)
{
	struct users_entry e;
	enum users_kind k = users_lookup(s->cfg->users, a->mailbox,
					 s->cfg->recipient_delimiter, &e);
	unsigned before = s->nrcpts;

	if (postmaster_or_extension(s, a) && (k == USERS_UNKNOWN || k == USERS_MOVED)) {
		k = USERS_ACCEPT;
		snprintf(e.address, sizeof e.address, "%s", a->mailbox);
	}
	if (k == USERS_ERROR) {		/* a damaged cdb: not the client's fault */
		refuse(s, R_STORE_IO, NULL);
		return;
	}
	if (k == USERS_UNKNOWN || k == USERS_MOVED) {
		s->rcpt_refused++;
		refuse(s, k == USERS_MOVED ? R_USER_MOVED : R_NO_SUCH_USER,
		       k == USERS_MOVED ? e.target : NULL);
		return;
	}
	/* An accept entry (a catch-all included) is spooled for the address
	 * the client gave, as it gave it. */
	int r = k == USERS_ACCEPT ? envelope_add_cb(s, a->mailbox) :
				    users_expand(s->cfg->users, &e, envelope_add_cb, s);
	if (r < 0) {
		/* envelope_add only appends: cutting back undoes this RCPT. */
		s->nrcpts = before;
		s->rcpt_refused++;
		if (r == -1 && before == 0) {
			/* Alone over the limit: the client's retries cannot
			 * help; the operator must raise the limit or split
			 * the list. */
			char q[ADDRESS_MAX * 4 + 8];
			log_line(s->cfg->log, LOG_WARNING,
				 "<%s> expands to more than --max-recipients (%u) addresses: "
				 "it can never be accepted", escaped(q, sizeof q, a->mailbox),
				 s->cfg->max_recipients);
		}
		if (r == -1)
			reply_send(&s->out, R_TOO_MANY_RCPTS, NULL);
		else
			refuse(s, R_STORE_IO, NULL);
		return;
	}
	if (k == USERS_FORWARD)
		reply_send(&s->out, R_WILL_FORWARD, e.target);
	else
		reply_send(&s->out, R_RCPT_OK, NULL);
}

static void cmd_rcpt(struct session *s, char *arg)
{
	struct address a;
	const char *rest;

	if (s->state != S_MAIL) {
		refuse(s, s->state == S_START ? R_NEED_HELO : R_NEED_MAIL, NULL);
		return;
	}
	if (!command_path(s, arg, "TO:", "Syntax: RCPT TO:<address>", &a, &rest))
		return;
	if (a.local_len == 0) {		/* <> is no recipient */
		s->rcpt_refused++;
		refuse(s, R_BAD_ADDRESS, NULL);
		return;
	}
	if (*rest != '\0' && *rest != ' ') {
		/* "<path>x": a syntax error, as for MAIL, not a parameter */
		s->rcpt_refused++;
		refuse(s, R_SYNTAX, "Syntax: RCPT TO:<address>");
		return;
	}
	while (*rest == ' ')
		rest++;
	if (*rest != '\0') {
		s->rcpt_refused++;
		refuse(s, R_BAD_PARAMETER, "Unsupported parameter");
		return;
	}
	/* <postmaster> and postmaster@any-of-ours always reach a person
	 * (RFC 5321 4.5.1); everything else must be in our domains. */
	if (a.domain != NULL && !domain_is_ours(s->cfg, a.domain)) {
		s->rcpt_refused++;
		refuse(s, R_RELAY_DENIED, NULL);
		return;
	}
	if (s->cfg->users != NULL && a.domain != NULL) {
		rcpt_from_table(s, &a);
		return;
	}
	/* Not a refusal that spends the error budget: the client is to send
	 * the message to those accepted and the rest later (RFC 5321
	 * 4.5.3.1.10), and a list past both limits would lose it for all. */
	if (s->nrcpts >= s->cfg->max_recipients &&
	    !envelope_has(s, a.mailbox)) {
		s->rcpt_refused++;
		reply_send(&s->out, R_TOO_MANY_RCPTS, NULL);
		return;
	}
	if (envelope_add(s, a.mailbox) < 0) {
		refuse(s, R_STORE_IO, NULL);
		return;
	}
	reply_send(&s->out, R_RCPT_OK, NULL);
}

/* ---- DATA: the byte machine ---- */

/* Bytes the fast path of D_TEXT must stop at. */
static const unsigned char special[256] = {['\0'] = 1, ['\r'] = 1, ['\n'] = 1};

/* A failure or refusal of the message: the first one wins, the spool file
 * goes at once, and the rest of the message is still read to its end. */
static void data_fail(struct session *s, enum reply_id why)
{
	if (s->data.error < 0) {
		s->data.error = (int)why;
		store_abort(s->store, &s->msg);
	}
}

static void data_flush(struct session *s)
{
	struct data *d = &s->data;

	if (d->error < 0 && d->olen > 0) {
		enum store_err e = store_write(&s->msg, d->obuf, d->olen);
		if (e != STORE_OK)
			data_fail(s, reply_for_store(e));
	}
	d->olen = 0;
}

static void emit(struct session *s, const char *p, size_t n)
{
	struct data *d = &s->data;

	while (n > 0 && d->error < 0) {
		size_t room = DATA_OBUF - d->olen;
		if (room == 0) {
			data_flush(s);
			continue;
		}
		size_t k = n < room ? n : room;
		memcpy(d->obuf + d->olen, p, k);
		d->olen += k;
		p += k;
		n -= k;
	}
}

/* A whole line and its LF, in one copy when the buffer has room. */
static void emit_line(struct session *s, const char *p, size_t n)
{
	struct data *d = &s->data;

	if (d->error < 0 && n < DATA_OBUF - d->olen) {
		memcpy(d->obuf + d->olen, p, n);
		d->obuf[d->olen + n] = '\n';
		d->olen += n + 1;
		return;
	}
	emit(s, p, n);
	emit(s, "\n", 1);
}

/*
 * The body on the network, whole lines at a time, from a line start at
 * p + i: a line that does not start with a dot and holds neither CR nor
 * NUL before its CRLF costs one memchr and one copy.  Everything else
 * (a dot, a bare CR, a NUL, a line cut by the end of the buffer) is left
 * to the byte machine, at the line start where this stopped.  *nul is the
 * first NUL at or after p + i, or p + n; NULL until it is first needed.
 * Without this a body cost over four instructions a byte.
 */
static size_t body_lines(struct session *s, const char *p, size_t i, size_t n,
			 const char **nul)
{
	struct data *d = &s->data;

	if (*nul == NULL) {
		*nul = memchr(p + i, '\0', n - i);
		if (*nul == NULL)
			*nul = p + n;
	}
	while (i < n && p[i] != '.') {
		const char *cr = memchr(p + i, '\r', n - i);
		if (cr == NULL || cr > *nul || (size_t)(cr - p) + 1 >= n ||
		    cr[1] != '\n')
			break;
		size_t len = (size_t)(cr - (p + i));
		emit_line(s, p + i, len);
		d->size += len + 2;
		i += len + 2;
	}
	return i;
}

/* One byte of line content (not a line end). */
static void content(struct session *s, char c)
{
	static const char received[] = "received";
	struct data *d = &s->data;

	if (c == '\0')
		data_fail(s, R_NUL_IN_DATA);
	if (d->in_headers && d->header_match >= 0) {
		int m = d->header_match;
		if (m < 8 && (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c) == received[m]) {
			d->header_match++;
		} else if (m == 8 && (c == ' ' || c == '\t')) {
			/* "Received :", RFC 5322's obsolete syntax
			 * (4.5), is still a hop */
		} else if (m == 8 && c == ':') {
			d->header_match = -1;
			/* RFC 5321 6.3: a hop count this high is a loop */
			if (++d->received >= 100)
				data_fail(s, R_LOOP);
		} else {
			d->header_match = -1;
		}
	}
	d->line_len++;
	d->size++;
	emit(s, &c, 1);
}

/* Line content with nothing in it for the byte machine to look at. */
static void text_run(struct session *s, const char *p, size_t n)
{
	s->data.line_len += n;
	s->data.size += n;
	emit(s, p, n);
}

/* A line end, stored as LF; octets is what it counts for SIZE (RFC 1870:
 * CRLF is two, a bare LF one). */
static void line_end(struct session *s, unsigned octets)
{
	struct data *d = &s->data;

	d->size += octets;
	if (d->in_headers && d->line_len == 0)
		d->in_headers = 0;
	d->line_len = 0;
	d->header_match = 0;
	emit(s, "\n", 1);
}

/*
 * Feed message bytes; returns how many were used (all of them, or up to and
 * including the final CRLF.CRLF).  On the network only CR LF "." CR LF ends
 * the message: a bare LF ends a line of the stored file but is not an SMTP
 * line end, so a "." after it is text and is not unstuffed; a bare CR is
 * kept as it is.  That is what makes every smuggling variant (LF.LF, LF.CRLF,
 * CRLF.LF, CR.CR, ...) a part of one message.  On a terminal LF is the line
 * end, since that is what a person's Enter key sends.
 */
static size_t data_feed(struct session *s, const char *p, size_t n)
{
	struct data *d = &s->data;
	const int lf_ends = s->cfg->terminal;
	const char *cr = NULL;		/* the next CR at or after p + i */
	const char *nul = NULL;		/* the next NUL, for body_lines() */
	size_t i = 0;

	while (i < n) {
		char c = p[i];

		switch (d->st) {
		case D_BOL:		/* start of a line (or of the message) */
			if (!d->in_headers && !lf_ends && c != '.') {
				size_t j = body_lines(s, p, i, n, &nul);
				if (j > i) {
					i = j;
					continue;
				}
			}
			if (c == '.') {
				d->st = D_BOL_DOT;
				i++;
			} else {
				d->st = D_TEXT;
			}
			break;
		case D_BOL_DOT:		/* "." at the start of a line */
			if (c == '\r') {
				d->st = D_BOL_DOT_CR;
				i++;
			} else if (c == '\n' && lf_ends) {
				d->st = D_END;
				return i + 1;
			} else {
				/* A stuffed dot: drop it (RFC 5321 4.5.2). */
				d->st = D_TEXT;
			}
			break;
		case D_BOL_DOT_CR:	/* ".\r" at the start of a line */
			if (c == '\n') {
				d->st = D_END;
				return i + 1;
			}
			/* The dot was stuffing; the CR is a bare CR. */
			d->st = D_CR;
			break;
		case D_TEXT:		/* inside a line */
			if (!d->in_headers && !lf_ends) {
				/* The body, on the network: a bare LF is text
				 * here, so only a CR (maybe a CRLF) or a NUL
				 * needs a look; memchr finds them far faster
				 * than a loop over every byte. */
				if (cr == NULL || cr < p + i) {
					cr = memchr(p + i, '\r', n - i);
					if (cr == NULL)
						cr = p + n;
				}
				const char *z = memchr(p + i, '\0', (size_t)(cr - (p + i)));
				size_t j = (size_t)((z != NULL ? z : cr) - p);
				if (j > i) {
					text_run(s, p + i, j - i);
					i = j;
					continue;
				}
			} else if (!(d->in_headers && d->header_match >= 0)) {
				size_t j = i;
				while (j < n && !special[(unsigned char)p[j]])
					j++;
				if (j > i) {
					text_run(s, p + i, j - i);
					i = j;
					continue;
				}
			}
			i++;
			if (c == '\r') {
				d->st = D_CR;
			} else if (c == '\n') {
				line_end(s, lf_ends ? 2 : 1);
				d->st = lf_ends ? D_BOL : D_TEXT;
			} else {
				content(s, c);
			}
			break;
		case D_CR:		/* "\r" inside a line */
			if (c == '\n') {
				line_end(s, 2);
				d->st = D_BOL;
				i++;
			} else {
				content(s, '\r');	/* a bare CR, kept */
				d->st = D_TEXT;
			}
			break;
		case D_END:
			return i;
		}
	}
	return i;
}

static void data_init(struct data *d)
{
	d->st = D_BOL;
	d->in_headers = 1;
	d->line_len = 0;
	d->header_match = 0;
	d->received = 0;
	d->size = 0;
	d->error = -1;
	d->olen = 0;
}

/* Year, month (1-12) and day of the proleptic Gregorian calendar for a
 * count of days since 1970-01-01; after H. Hinnant's days_from_civil
 * inverse.  gmtime_r would do, but glibc reads /etc/localtime for it. */
static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);			/* 0..146096 */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* 0..365 */
	unsigned mp = (5 * doy + 2) / 153;				/* March = 0 */

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

/* RFC 5322 date-time in UTC: no time zone files to read, nothing local. */
static void rfc5322_date(char *buf, size_t size, time_t t)
{
	static const char days[][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	long long day = (long long)t / 86400, sec = (long long)t % 86400, year;
	unsigned month, mday;

	if (sec < 0) {
		sec += 86400;
		day--;
	}
	civil_from_days(day, &year, &month, &mday);
	snprintf(buf, size, "%s, %u %s %lld %02lld:%02lld:%02lld +0000",
		 days[((day % 7) + 7) % 7], mday, months[month - 1], year,
		 sec / 3600, sec / 60 % 60, sec % 60);
}

/* The envelope, first in the file: Return-Path, one X-Original-To per
 * recipient, and our Received: line (RFC 5321 4.4). */
static void envelope_write(struct session *s)
{
	const struct io *io = s->in.io;
	char line[1200], date[128];
	time_t now = io->now != NULL ? io->now(io->ctx) : time(NULL);
	int n;

	n = snprintf(line, sizeof line, "Return-Path: <%s>\n", s->sender.mailbox);
	emit(s, line, (size_t)n);
	for (unsigned i = 0; i < s->nrcpts; i++) {
		n = snprintf(line, sizeof line, "X-Original-To: <%s>\n", s->rcpts[i]);
		emit(s, line, (size_t)n);
	}
	rfc5322_date(date, sizeof date, now);
	n = snprintf(line, sizeof line,
		     "Received: from %s (%s) by %s with %s id %s%s%s%s; %s\n",
		     s->helo, s->cfg->peer, s->cfg->hostname,
		     s->esmtp ? "ESMTP" : "SMTP", s->msg.id,
		     s->nrcpts == 1 ? " for <" : "",
		     s->nrcpts == 1 ? s->rcpts[0] : "",
		     s->nrcpts == 1 ? ">" : "", date);
	if (n > 0 && (size_t)n < sizeof line)
		emit(s, line, (size_t)n);
	else
		data_fail(s, R_STORE_IO);
}

/* The connection ended or must end for a reason of io's (see io.h). */
static void input_failed(struct session *s, long status)
{
	switch (status) {
	case IO_TIMEOUT:
		close_with(s, R_TIMEOUT);
		break;
	case IO_SIGNAL:
		close_with(s, R_SHUTDOWN);
		break;
	case IO_DEADLINE:
		close_with(s, R_SESSION_TIMEOUT);
		break;
	case IO_SLOW:
		close_with(s, R_TOO_SLOW);
		break;
	default:		/* EOF, reset: nobody is left to tell */
		session_end(s);
		break;
	}
}

static void message_log(struct session *s, enum reply_id result)
{
	char from[200];

	escaped(from, sizeof from, s->sender.mailbox);
	if (result == R_QUEUED)
		log_line(s->cfg->log, LOG_INFO,
			 "accepted id=%s size=%llu rcpts=%u from=<%s>",
			 s->msg.id, s->data.size, s->nrcpts, from);
	else if ((result == R_STORE_IO || result == R_STORE_NOSPACE) && s->msg.failed != NULL)
		/* Not the client's doing: a problem of the spool, with its
		 * reason, where the operator looks for errors. */
		log_line(s->cfg->log, LOG_ERR,
			 "refused id=%s size=%llu rcpts=%u from=<%s> reply=%d: %s: %s",
			 s->msg.id, s->data.size, s->nrcpts, from, reply_code(result),
			 s->msg.failed, s->msg.failed_errno != 0 ?
			 strerror(s->msg.failed_errno) : "the file took no more bytes");
	else
		log_line(s->cfg->log, LOG_NOTICE,
			 "refused id=%s size=%llu rcpts=%u from=<%s> reply=%d",
			 s->msg.id[0] ? s->msg.id : "-", s->data.size,
			 s->nrcpts, from, reply_code(result));
}

/* The message has ended (CRLF.CRLF): make it safe, or say why not. */
static void data_finish(struct session *s)
{
	struct data *d = &s->data;
	enum reply_id result;

	data_flush(s);
	if (d->error < 0) {
		enum store_err e = store_commit(s->store, &s->msg);
		if (e != STORE_OK)
			d->error = (int)reply_for_store(e);
	}
	result = d->error < 0 ? R_QUEUED : (enum reply_id)d->error;
	if (result == R_QUEUED) {
		reply_send(&s->out, R_QUEUED, s->msg.id);
		s->accepted++;
		s->junk = 0;
	} else {
		reply_send(&s->out, result, NULL);
		s->refused++;
	}
	message_log(s, result);
}

static void data_receive(struct session *s)
{
	const struct io *io = s->in.io;
	struct data *d = &s->data;

	if (io->data_phase != NULL)
		io->data_phase(io->ctx, 1);
	while (d->st != D_END) {
		const char *p;
		ssize_t n = input_peek(&s->in, &p);
		if (n <= 0) {
			/* The client vanished or must be cut off mid-message:
			 * nothing of it may stay in the spool. */
			store_abort(s->store, &s->msg);
			log_line(s->cfg->log, LOG_NOTICE,
				 "message %s lost: connection ended after %llu bytes",
				 s->msg.id, d->size);
			input_failed(s, n);
			goto out;
		}
		size_t used = data_feed(s, p, (size_t)n);
		input_consume(&s->in, used);
		if (d->size > s->cfg->max_size)
			data_fail(s, R_TOO_BIG);
	}
	data_finish(s);
out:
	if (io->data_phase != NULL)
		io->data_phase(io->ctx, 0);
}

/* Has the client sent anything we have not answered?  Our reply to the
 * command just read is still in our buffer, so whatever is already here,
 * read or not, was sent without waiting for it. */
static int input_waiting(const struct session *s)
{
	const struct io *io = s->in.io;

	return input_pending(&s->in) ||
	       (io->pending != NULL && io->pending(io->ctx));
}

static void cmd_data(struct session *s, char *arg)
{
	enum store_err e;
	enum reply_id why;

	if (s->state != S_MAIL)
		why = s->state == S_START ? R_NEED_HELO : R_NEED_MAIL;
	else if (s->nrcpts == 0)
		why = s->rcpt_refused > 0 ? R_NO_VALID_RCPTS : R_NEED_RCPT;
	else if (*arg != '\0')
		why = R_SYNTAX;
	else
		why = R_DATA_GO;
	if (why != R_DATA_GO) {
		refuse(s, why, "Syntax: DATA");
		/* A message body sent before our reply would now be read as
		 * commands (RFC 2920 3.1 says DATA ends a group): refuse to
		 * act on any of it. */
		if (s->state != S_DONE && input_waiting(s))
			close_with(s, R_BAD_PIPELINING);
		return;
	}
	s->msg.id[0] = '\0';
	data_init(&s->data);
	e = store_open(s->store, &s->msg);
	if (e != STORE_OK) {
		why = reply_for_store(e);
		log_line(s->cfg->log, LOG_ERR, "cannot create a file in %s/tmp: %s",
			 s->cfg->spool, strerror(errno));
		refuse(s, why, NULL);
		transaction_reset(s);
		if (s->state != S_DONE && input_waiting(s))
			close_with(s, R_BAD_PIPELINING);
		return;
	}
	envelope_write(s);
	reply_send(&s->out, R_DATA_GO, NULL);
	data_receive(s);
	transaction_reset(s);
}

/* ---- the rest ---- */

static void cmd_rset(struct session *s, char *arg)
{
	if (*arg != '\0') {
		refuse(s, R_SYNTAX, "Syntax: RSET");
		return;
	}
	transaction_reset(s);
	reply_send(&s->out, R_DONE, NULL);
}

static void cmd_noop(struct session *s, char *arg)
{
	(void)arg;		/* NOOP [ SP String ] (RFC 5321 4.1.1.9) */
	reply_send(&s->out, R_DONE, NULL);
}

/* "Full Name <addr>", or "<addr>" when the table has no name. */
static void describe(char *buf, size_t size, const struct users_entry *e,
		     const char *addr)
{
	if (e != NULL && e->name[0] != '\0')
		snprintf(buf, size, "%s <%s>", e->name, addr);
	else
		snprintf(buf, size, "<%s>", addr);
}

#define VRFY_SHOWN 10	/* candidates listed in a 553 reply */

struct matches {
	unsigned n;
	struct users_entry e[VRFY_SHOWN];
};

static void match_found(void *ctx, const struct users_entry *e)
{
	struct matches *m = ctx;

	if (m->n < VRFY_SHOWN)
		m->e[m->n++] = *e;
}

/* VRFY and EXPN take an address, a local part or a name, maybe in <>. */
static char *query_text(char *arg)
{
	size_t n = strlen(arg);

	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>') {
		arg[n - 1] = '\0';
		arg++;
	}
	return arg;
}

/* Is q (an address without <>, or a bare local part) postmaster, at one of
 * our domains if it names one, whom RCPT accepts listed or not? */
static int our_postmaster(const struct session *s, const char *q)
{
	char path[ADDRESS_MAX + 3];
	struct address a;
	const char *rest;
	int n = snprintf(path, sizeof path, "<%s>", q);

	if (strcasecmp(q, "\"postmaster\"") == 0)	/* no path without a domain */
		return 1;
	return n > 0 && (size_t)n < sizeof path &&
	       address_parse(path, &a, &rest) == ADDRESS_OK && *rest == '\0' &&
	       postmaster_or_extension(s, &a) &&
	       (a.domain == NULL || domain_is_ours(s->cfg, a.domain));
}

/* Search the table; on exactly one match return it, else reply (550 for
 * none, 553 with the candidates for several) and return NULL.  expn: the
 * query is EXPN's, which has no 252 of its own. */
static const struct users_entry *lookup_one(struct session *s, char *arg,
					    struct matches *m, int expn)
{
	char line[600];
	int total;

	const char *q = query_text(arg);

	m->n = 0;
	total = users_search(s->cfg->users, q, VRFY_SHOWN, match_found, m);
	if (total == 1 && m->n == 1)
		return &m->e[0];
	if (total < 0) {
		refuse(s, R_STORE_IO, NULL);
		return NULL;
	}
	if (total == 0 && strchr(q, '@') != NULL) {
		/* Not a key, but maybe a delimiter form or a catch-all that
		 * RCPT would take: never 250 for an address the table does
		 * not name (RFC 5321 3.5.3), but not 550 either. */
		enum users_kind k = users_lookup(s->cfg->users, q,
						 s->cfg->recipient_delimiter, &m->e[0]);
		if (k == USERS_ERROR) {
			refuse(s, R_STORE_IO, NULL);
			return NULL;
		}
		if (k != USERS_UNKNOWN && m->e[0].address[0] != '@')
			return &m->e[0];
		if (k != USERS_UNKNOWN || our_postmaster(s, q)) {
			if (expn)
				refuse(s, R_NOT_A_GROUP, q);
			else
				reply_send(&s->out, R_VRFY_CANNOT, NULL);
			return NULL;
		}
	}
	if (total == 0 && our_postmaster(s, q)) {
		/* Not in the table, yet RCPT takes it: not 550. */
		if (expn)
			refuse(s, R_NOT_A_GROUP, q);
		else
			reply_send(&s->out, R_VRFY_CANNOT, NULL);
		return NULL;
	}
	if (total == 0) {
		refuse(s, R_NO_MATCH, NULL);
		return NULL;
	}
	/* RFC 5321 3.5.3: an ambiguous name lists the possibilities. */
	if (refusal_begin(s) < 0)
		return NULL;
	reply_line(&s->out, 553, "5.1.4", 1, "User ambiguous; possibilities are");
	for (unsigned i = 0; i < m->n; i++) {
		describe(line, sizeof line, &m->e[i], m->e[i].address);
		reply_line(&s->out, 553, "5.1.4",
			   i + 1 < m->n || (unsigned)total > m->n, line);
	}
	if ((unsigned)total > m->n) {
		snprintf(line, sizeof line, "and %u more", (unsigned)total - m->n);
		reply_line(&s->out, 553, "5.1.4", 0, line);
	}
	refusal_end(s);
	return NULL;
}

static void cmd_vrfy(struct session *s, char *arg)
{
	struct matches m;
	const struct users_entry *e;
	char line[600];

	if (*arg == '\0') {
		refuse(s, R_SYNTAX, "Syntax: VRFY <user>");
		return;
	}
	if (!s->cfg->vrfy || s->cfg->users == NULL) {
		/* RFC 5321 7.3: we will not tell, and we do not refuse. */
		reply_send(&s->out, R_VRFY_CANNOT, NULL);
		return;
	}
	e = lookup_one(s, arg, &m, 0);
	if (e == NULL)
		return;
	switch (e->kind) {
	case USERS_FORWARD:
		reply_send(&s->out, R_WILL_FORWARD, e->target);
		break;
	case USERS_MOVED:
		/* A moved postmaster is still taken by RCPT: no 551. */
		if (our_postmaster(s, e->address))
			reply_send(&s->out, R_VRFY_CANNOT, NULL);
		else
			refuse(s, R_USER_MOVED, e->target);
		break;
	default:
		describe(line, sizeof line, e, e->address);
		reply_send(&s->out, R_VRFY_USER, line);
		break;
	}
}

struct expansion {
	struct session *s;
	unsigned n, shown;
	char pending[600];	/* the previous line, sent as "250-" */
};

static int expn_member(void *ctx, const char *mailbox)
{
	struct expansion *x = ctx;
	struct users_entry me;
	int known = users_lookup(x->s->cfg->users, mailbox, NULL, &me) == USERS_ACCEPT;

	if (x->n++ > 0)
		reply_line(&x->s->out, 250, "2.1.5", 1, x->pending);
	describe(x->pending, sizeof x->pending, known ? &me : NULL, mailbox);
	return 0;
}

static int expn_check(void *ctx, const char *mailbox)
{
	(void)ctx, (void)mailbox;
	return 0;
}

static void cmd_expn(struct session *s, char *arg)
{
	struct matches m;
	const struct users_entry *e;
	struct expansion x = {.s = s};

	if (!s->cfg->expn || s->cfg->users == NULL) {
		refuse(s, R_NOT_IMPLEMENTED, NULL);
		return;
	}
	if (*arg == '\0') {
		refuse(s, R_SYNTAX, "Syntax: EXPN <list>");
		return;
	}
	e = lookup_one(s, arg, &m, 1);
	if (e == NULL)
		return;
	if (e->kind != USERS_GROUP) {
		refuse(s, R_NOT_A_GROUP, e->address);
		return;
	}
	/* Expand once without replying: a table that fails half way must
	 * not give a list cut short as if it were the whole group. */
	if (users_expand(s->cfg->users, e, expn_check, NULL) < 0) {
		refuse(s, R_STORE_IO, NULL);
		return;
	}
	users_expand(s->cfg->users, e, expn_member, &x);
	if (x.n == 0)
		snprintf(x.pending, sizeof x.pending, "<%s> has no members", e->address);
	reply_line(&s->out, 250, "2.1.5", 0, x.pending);
}

/* SEND (terminal delivery is not offered) and TURN (RFC 2505). */
static void cmd_not_implemented(struct session *s, char *arg)
{
	(void)arg;
	refuse(s, R_NOT_IMPLEMENTED, NULL);
}

static void cmd_quit(struct session *s, char *arg)
{
	if (*arg != '\0') {
		refuse(s, R_SYNTAX, "Syntax: QUIT");
		return;
	}
	reply_send(&s->out, R_QUIT, s->cfg->hostname);
	session_end(s);
}

static void cmd_help(struct session *s, char *arg);

enum {
	CMD_JUNK = 1,		/* free to repeat: counts toward the junk limit */
	CMD_UNOFFERED = 2,	/* answered 502: not listed by HELP */
	CMD_EXPN = 4		/* offered only with --expn and a table */
};

struct command {
	const char *verb;
	void (*run)(struct session *s, char *arg);
	unsigned flags;
	const char *help;
};

static const struct command commands[] = {
	{"HELO", cmd_helo, 0, "HELO <domain>: say who you are"},
	{"EHLO", cmd_ehlo, 0, "EHLO <domain>: say who you are; the reply lists the extensions"},
	{"MAIL", cmd_mail, 0, "MAIL FROM:<sender> [SIZE=<bytes>] [BODY=7BIT|8BITMIME]: start a message"},
	{"RCPT", cmd_rcpt, 0, "RCPT TO:<recipient>: add a recipient (once per recipient)"},
	{"DATA", cmd_data, 0, "DATA: send the message, ended by a line holding only a dot"},
	{"RSET", cmd_rset, CMD_JUNK, "RSET: abandon the message being prepared"},
	{"NOOP", cmd_noop, CMD_JUNK, "NOOP: do nothing"},
	{"HELP", cmd_help, CMD_JUNK, "HELP [command]: list the commands, or explain one"},
	{"VRFY", cmd_vrfy, CMD_JUNK, "VRFY <user>: is this a user here? (252 unless the operator enabled VRFY)"},
	{"EXPN", cmd_expn, CMD_JUNK | CMD_EXPN, "EXPN <list>: list a mailing list's members (when the operator enabled EXPN)"},
	{"SOML", cmd_mail, 0, "SOML FROM:<sender>: as MAIL (nobody is logged in here)"},
	{"SAML", cmd_mail, 0, "SAML FROM:<sender>: as MAIL (nobody is logged in here)"},
	{"SEND", cmd_not_implemented, CMD_UNOFFERED, "SEND: not offered (no delivery to terminals)"},
	{"TURN", cmd_not_implemented, CMD_UNOFFERED, "TURN: not offered (RFC 2505)"},
	{"QUIT", cmd_quit, 0, "QUIT: end the session"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Verbs compare case-insensitively (RFC 5321 2.4); the table's are upper
 * case ASCII, so folding the client's letters is enough. */
static const struct command *command_find(const char *verb)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *v = commands[i].verb;
		size_t k = 0;
		while (v[k] != '\0' && (verb[k] == v[k] ||
		       (verb[k] >= 'a' && verb[k] <= 'z' && verb[k] - 32 == v[k])))
			k++;
		if (v[k] == '\0' && verb[k] == '\0')
			return &commands[i];
	}
	return NULL;
}

static void cmd_help(struct session *s, char *arg)
{
	if (*arg != '\0') {
		const struct command *c = command_find(arg);
		if (c == NULL) {
			refuse(s, R_HELP_UNKNOWN, NULL);
			return;
		}
		reply_send(&s->out, R_HELP_TOPIC, c->help);
		return;
	}
	char list[200] = "Commands:";
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if ((commands[i].flags & CMD_UNOFFERED) ||
		    ((commands[i].flags & CMD_EXPN) &&
		     (!s->cfg->expn || s->cfg->users == NULL)))
			continue;
		strcat(list, " ");
		strcat(list, commands[i].verb);
	}
	reply_line(&s->out, 214, "2.0.0", 1, list);
	reply_line(&s->out, 214, "2.0.0", 1, "HELP <command> explains one; mail for people here goes to <postmaster>");
	reply_line(&s->out, 214, "2.0.0", 0, "End of HELP");
}

/* A first line from a web browser or a TLS client is no SMTP client that
 * got confused: end at once, before it can be read as commands (as Postfix
 * does against cross-protocol attacks). */
static int other_protocol(const char *line)
{
	static const char *const http[] = {"GET", "POST", "HEAD", "CONNECT", "PUT"};
	unsigned char c = (unsigned char)line[0];

	if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
		return 1;
	for (size_t i = 0; i < sizeof http / sizeof http[0]; i++) {
		size_t n = 0;
		while (http[i][n] != '\0' && line[n] == http[i][n])
			n++;
		if (http[i][n] == '\0' && (line[n] == ' ' || line[n] == '\0'))
			return 1;
	}
	return 0;
}

static void dispatch(struct session *s, char *line, size_t len)
{
	const struct command *c;
	char *arg;
	size_t n;

	s->commands++;
	if (s->commands == 1 && !s->cfg->terminal && other_protocol(line)) {
		close_with(s, R_NOT_SMTP);
		return;
	}
	if (memchr(line, '\0', len) != NULL) {
		refuse(s, R_UNKNOWN_COMMAND, NULL);
		return;
	}
	/* Trailing blanks are no part of any argument. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	for (n = 0; line[n] != ' ' && line[n] != '\0'; n++)
		;
	arg = line + n;
	if (*arg == ' ')
		*arg++ = '\0';
	c = command_find(line);
	if (c == NULL) {
		refuse(s, R_UNKNOWN_COMMAND, NULL);
		return;
	}
	if ((c->flags & CMD_JUNK) && s->cfg->junk_limit > 0 &&
	    ++s->junk > s->cfg->junk_limit) {
		close_with(s, R_TOO_MANY_JUNK);
		return;
	}
	c->run(s, arg);
}

int session_init(struct session *s, const struct config *cfg,
		 struct store *store, const struct io *io)
{
	memset(s, 0, offsetof(struct session, out));
	s->cfg = cfg;
	s->store = store;
	s->state = S_START;
	s->msg.fd = -1;
	s->data.olen = 0;
	s->data.error = -1;
	reply_init(&s->out, io);
	input_init(&s->in, io, &s->out);
	return 0;
}

void session_free(struct session *s)
{
	store_abort(s->store, &s->msg);
	if (s->rcpts != s->rcpt_inline)	/* the heap's, or NULL (no mail) */
		free(s->rcpts);
	s->rcpts = NULL;
}

static void log_disconnect(struct session *s)
{
	char peer[64];

	log_line(s->cfg->log, LOG_INFO,
		 "disconnect from %s commands=%u accepted=%u refused=%u errors=%u",
		 escaped(peer, sizeof peer, s->cfg->peer), s->commands,
		 s->accepted, s->refused, s->errors);
}

int session_refuse(struct session *s, enum reply_id why)
{
	reply_send(&s->out, why, s->cfg->hostname);
	reply_flush(&s->out);
	session_end(s);
	return 1;
}

/* A TLS ClientHello or other binary greeting may hold no line end for a
 * long while, and its sender waits for an answer: judge it by its first
 * byte, as soon as that arrives. */
static void first_byte_check(struct session *s)
{
	const char *p;
	ssize_t n = input_peek(&s->in, &p);

	if (n <= 0) {
		input_failed(s, n);
		return;
	}
	unsigned char c = (unsigned char)p[0];
	if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
		s->commands++;
		close_with(s, R_NOT_SMTP);
	}
}

int session_run(struct session *s)
{
	const struct io *io = s->in.io;
	char peer[64];

	log_line(s->cfg->log, LOG_INFO, "connect from %s",
		 escaped(peer, sizeof peer, s->cfg->peer));
	if (s->cfg->greet_delay > 0 && io->pause != NULL && io->pending != NULL) {
		/* Clients must wait for the greeting (RFC 5321 3.1); bots
		 * that do not are told so and dropped.  A signal or the
		 * deadline in the delay is answered instead of the greeting:
		 * no 220 for a service that is already closing. */
		int r = io->pause(io->ctx, s->cfg->greet_delay * 1000u);
		if (r < 0) {
			input_failed(s, r);
		} else if (io->pending(io->ctx)) {
			reply_send(&s->out, R_EARLY_TALKER, NULL);
			log_line(s->cfg->log, LOG_NOTICE,
				 "input before the greeting from %s", peer);
			session_end(s);
		}
	}
	if (s->state != S_DONE)
		reply_send(&s->out, R_GREETING, s->cfg->hostname);
	if (s->state != S_DONE && !s->cfg->terminal)
		first_byte_check(s);
	while (s->state != S_DONE) {
		char *line;
		size_t len;
		int lf_only;
		int r = input_line(&s->in, &line, &len, &lf_only);

		if (s->out.broken) {
			/* Nobody reads our replies any more: stop acting on
			 * commands nobody will see answered. */
			session_end(s);
		} else if (r == IN_LINE) {
			dispatch(s, line, len);
		} else if (r == IN_TOO_LONG) {
			s->commands++;
			if (s->commands == 1 && !s->cfg->terminal)
				close_with(s, R_NOT_SMTP);
			else
				refuse(s, R_LINE_TOO_LONG, NULL);
		} else {
			input_failed(s, r);
		}
	}
	reply_flush(&s->out);
	log_disconnect(s);
	return 0;	/* whatever the client did, smtpd did its part */
}
