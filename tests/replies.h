/*
 * replies.h: the reply lines the session tests expect again and again,
 * for host mx.test with testio.h's default configuration, after EHLO.
 */
#ifndef REPLIES_H
#define REPLIES_H

#define GREETING "220 mx.test ESMTP smtpd\r\n"
#define EHLO_REPLY "250-mx.test\r\n" \
	"250-SIZE 10485760\r\n" \
	"250-8BITMIME\r\n" \
	"250-PIPELINING\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n" \
	"250-SOML\r\n" \
	"250-SAML\r\n" \
	"250 HELP\r\n"
#define GO "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
#define QUEUED "250 2.0.0 OK: queued as ID\r\n"
#define BYE "221 2.0.0 mx.test Service closing transmission channel\r\n"

#endif
