/*
 * reply.c: the table of every reply smtpd sends, and the buffer they wait
 * in.  Enhanced status codes (RFC 3463, RFC 2034) are shown once the client
 * has said EHLO; 354 never carries one, since RFC 3463 has no class 3.
 * Replies are written when the session is about to wait for input, so a
 * pipelined group of commands gets its replies in one write (RFC 2920 3.2).
 */
#include <string.h>

#include "reply.h"

struct reply_entry {
	int code;
	const char *esc;
	const char *text;	/* may hold one %s */
};

static const struct reply_entry table[R_COUNT] = {
	[R_GREETING] = {220, NULL, "%s ESMTP smtpd"},
	[R_HELO] = {250, NULL, "%s"},
	[R_DONE] = {250, "2.0.0", "OK"},
	[R_MAIL_OK] = {250, "2.1.0", "OK"},
	[R_RCPT_OK] = {250, "2.1.5", "OK"},
	[R_WILL_FORWARD] = {251, "2.1.5", "User not local; will forward to <%s>"},
	[R_VRFY_USER] = {250, "2.1.5", "%s"},
	[R_QUEUED] = {250, "2.0.0", "OK: queued as %s"},
	[R_VRFY_CANNOT] = {252, "2.0.0",
		"Cannot VRFY user, but will accept message and attempt delivery"},
	[R_DATA_GO] = {354, NULL, "Start mail input; end with <CRLF>.<CRLF>"},
	[R_HELP_TOPIC] = {214, "2.0.0", "%s"},
	[R_QUIT] = {221, "2.0.0", "%s Service closing transmission channel"},
	[R_SHUTDOWN] = {421, "4.3.2", "%s Service shutting down, closing transmission channel"},
	[R_TIMEOUT] = {421, "4.4.2", "%s Timeout waiting for input, closing transmission channel"},
	[R_SESSION_TIMEOUT] = {421, "4.4.2", "%s Session time limit reached, closing transmission channel"},
	[R_TOO_SLOW] = {421, "4.4.2", "%s Data arriving too slowly, closing transmission channel"},
	[R_TOO_MANY_ERRORS] = {421, "4.7.0", "%s Too many errors, closing transmission channel"},
	[R_TOO_MANY_JUNK] = {421, "4.7.0", "%s Too many commands without mail, closing transmission channel"},
	[R_SPOOL_UNUSABLE] = {421, "4.3.0", "%s Mail spool unavailable, closing transmission channel"},
	[R_USERS_UNUSABLE] = {421, "4.3.0", "%s Users table unavailable, closing transmission channel"},
	[R_BAD_PIPELINING] = {421, "4.5.0", "%s Improper pipelining: input sent before the reply, closing transmission channel"},
	[R_NOT_SMTP] = {421, "4.7.0", "%s This is an SMTP server, closing transmission channel"},
	[R_STORE_IO] = {451, "4.3.0", "Local error in processing; try again later"},
	[R_STORE_NOSPACE] = {452, "4.3.1", "Insufficient system storage; try again later"},
	[R_LOW_SPACE] = {452, "4.3.1", "Insufficient system storage; try again later"},
	[R_TOO_MANY_RCPTS] = {452, "4.5.3", "Too many recipients"},
	[R_UNKNOWN_COMMAND] = {500, "5.5.2", "Syntax error, command unrecognized"},
	[R_LINE_TOO_LONG] = {500, "5.5.2", "Line too long"},
	[R_SYNTAX] = {501, "5.5.4", "%s"},
	[R_BAD_ADDRESS] = {501, "5.1.3", "Bad address syntax"},
	[R_ADDRESS_LONG] = {501, "5.1.3", "Address too long: local part over 64 or domain over 255 octets"},
	/* RFC 3463: X.1.3 is the destination's syntax, X.1.7 the sender's. */
	[R_BAD_SENDER] = {501, "5.1.7", "Bad address syntax"},
	[R_SENDER_LONG] = {501, "5.1.7", "Address too long: local part over 64 or domain over 255 octets"},
	[R_NOT_IMPLEMENTED] = {502, "5.5.1", "Command not implemented"},
	[R_NEED_HELO] = {503, "5.5.1", "Bad sequence of commands: send HELO or EHLO first"},
	[R_NESTED_MAIL] = {503, "5.5.1", "Bad sequence of commands: MAIL already given"},
	[R_NEED_MAIL] = {503, "5.5.1", "Bad sequence of commands: send MAIL first"},
	[R_NEED_RCPT] = {503, "5.5.1", "Bad sequence of commands: send RCPT first"},
	[R_HELP_UNKNOWN] = {504, "5.5.4", "HELP topic unknown"},
	[R_NO_SUCH_USER] = {550, "5.1.1", "No such user here"},
	[R_NO_MATCH] = {550, "5.1.1", "String does not match anything"},
	[R_NOT_A_GROUP] = {550, "5.1.1", "Not a mailing list: <%s>"},
	[R_USER_MOVED] = {551, "5.1.6", "User not local; please try <%s>"},
	[R_RELAY_DENIED] = {550, "5.7.1", "Relaying denied"},
	[R_TOO_BIG] = {552, "5.3.4", "Message size exceeds fixed maximum message size"},
	[R_NO_VALID_RCPTS] = {554, "5.5.1", "No valid recipients"},
	[R_NUL_IN_DATA] = {554, "5.6.0", "Message contains NUL bytes"},
	[R_LOOP] = {554, "5.4.6", "Too many Received: headers: mail loop"},
	[R_EARLY_TALKER] = {554, "5.5.0", "Input sent before the greeting"},
	[R_BAD_PARAMETER] = {555, "5.5.4", "%s"},
};

void reply_init(struct reply *r, const struct io *io)
{
	r->io = io;
	r->enhanced = 0;
	r->broken = 0;
	r->len = 0;
}

int reply_flush(struct reply *r)
{
	if (r->len > 0 && !r->broken &&
	    r->io->write(r->io->ctx, r->buf, r->len) < 0)
		r->broken = 1;
	r->len = 0;
	return r->broken ? -1 : 0;
}

/* Append at most max bytes of src to line at *n (bounded by size). */
static void append(char *line, size_t size, size_t *n, const char *src,
		   size_t max)
{
	size_t len = 0;

	while (len < max && src[len] != '\0')
		len++;
	if (len > size - *n)
		len = size - *n;
	memcpy(line + *n, src, len);
	*n += len;
}

void reply_line(struct reply *r, int code, const char *esc, int more,
		const char *text)
{
	/* A reply line is at most 512 octets with CRLF (RFC 5321 4.5.3.1.5);
	 * our texts are far shorter, and argument text is cut to fit.  Built
	 * by hand rather than by snprintf: this runs for every reply, and
	 * every connection pays for the formatter otherwise. */
	char line[512];
	size_t n = 4;

	line[0] = (char)('0' + code / 100 % 10);
	line[1] = (char)('0' + code / 10 % 10);
	line[2] = (char)('0' + code % 10);
	line[3] = more ? '-' : ' ';
	if (r->enhanced && esc != NULL) {
		append(line, sizeof line - 2, &n, esc, 16);
		append(line, sizeof line - 2, &n, " ", 1);
	}
	append(line, sizeof line - 2, &n, text, sizeof line);
	line[n++] = '\r';
	line[n++] = '\n';
	if (r->len + n > sizeof r->buf)
		reply_flush(r);
	memcpy(r->buf + r->len, line, n);
	r->len += n;
}

void reply_send(struct reply *r, enum reply_id id, const char *arg)
{
	const struct reply_entry *e = &table[id];
	const char *pct = e->text;
	char text[500];
	size_t n = 0;

	while (*pct != '\0' && (pct[0] != '%' || pct[1] != 's'))
		pct++;
	if (*pct == '\0') {
		reply_line(r, e->code, e->esc, 0, e->text);
		return;
	}
	/* Splice arg in by hand: the table's texts are constants, and arg is
	 * never used as a format. */
	append(text, sizeof text - 1, &n, e->text, (size_t)(pct - e->text));
	append(text, sizeof text - 1, &n, arg ? arg : "", sizeof text);
	append(text, sizeof text - 1, &n, pct + 2, sizeof text);
	text[n] = '\0';
	reply_line(r, e->code, e->esc, 0, text);
}

enum reply_id reply_for_store(enum store_err err)
{
	return err == STORE_NOSPACE ? R_STORE_NOSPACE : R_STORE_IO;
}

int reply_code(enum reply_id id)
{
	return table[id].code;
}
