/*
 * check_recipients.c: the users table in the conversation (issue 3): every
 * RCPT, VRFY and EXPN reply a table gives, with and without enhanced codes,
 * the X-Original-To lines a group, a forward or a repeat leaves in the
 * spooled file, --max-recipients counting spooled recipients (all of an
 * RCPT or nothing of it), and a transaction left as it was by every
 * refusal.  Each conversation runs twice, on the text form of its table
 * and on the cdb form users_compile makes of it, and both must give the
 * same transcript and the same files byte for byte.  (The table module
 * itself is tested in check_users.c.)
 */
#include <cdb.h>

#include "suites.h"
#include "testio.h"
#include "users.h"

/* The table most tests use.  Domains of ours: example.org,
 * catchall.example, moved.example, plain.example (see run_form). */
static const char table[] =
	"# check_recipients.c\n"
	"alice@example.org        accept   Alice Smith\n"
	"fred@example.org         accept   Fred   Smith     # blanks become one\n"
	"Bob@Example.org          forward  bob@elsewhere.example\n"
	"carol@example.org        moved    carol@newplace.example\n"
	"\"john q\"@example.org     accept   John Q. Public\n"
	"nameless@example.org     accept\n"
	"\n"
	"team@example.org         group    alice@example.org fred@example.org\n"
	"staff@example.org        group    team@example.org Bob@example.org partner@other.example ALICE@example.org\n"
	"all@example.org          group    staff@example.org nameless@example.org team@example.org info@catchall.example\n"
	"@catchall.example        accept\n"
	"old@catchall.example     moved    new@elsewhere.example\n"
	"postmaster@moved.example moved    admin@elsewhere.example\n"
	"alice@other.example      accept   Alice Jones\n";

#define GREETING "220 mx.test ESMTP smtpd\r\n"
#define EHLO_REPLY "250-mx.test\r\n" \
	"250-SIZE 10485760\r\n" \
	"250-8BITMIME\r\n" \
	"250-PIPELINING\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n" \
	"250-SOML\r\n" \
	"250-SAML\r\n"
#define EHLO_PLAIN EHLO_REPLY "250 HELP\r\n"
#define EHLO_VRFY_EXPN EHLO_REPLY "250-VRFY\r\n250-EXPN\r\n250 HELP\r\n"
#define GO "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
#define QUEUED_E "250 2.0.0 OK: queued as ID\r\n"
#define QUEUED "250 OK: queued as ID\r\n"
#define BYE_E "221 2.0.0 mx.test Service closing transmission channel\r\n"
#define BYE "221 mx.test Service closing transmission channel\r\n"
#define MAIL_E "250 2.1.0 OK\r\n"
#define RCPT_E "250 2.1.5 OK\r\n"
#define OK "250 OK\r\n"
#define NO_USER_E "550 5.1.1 No such user here\r\n"
#define NO_MATCH_E "550 5.1.1 String does not match anything\r\n"
#define CANNOT_E "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
#define TOO_MANY_E "452 4.5.3 Too many recipients\r\n"
#define LOCAL_ERROR_E "451 4.3.0 Local error in processing; try again later\r\n"
#define FORWARD_E(a) "251 2.1.5 User not local; will forward to <" a ">\r\n"
#define MOVED_E(a) "551 5.1.6 User not local; please try <" a ">\r\n"

#define RETURN_PATH "Return-Path: <s@sender.example>\n"
#define XOT(a) "X-Original-To: <" a ">\n"
#define DATE "; Fri, 13 Nov 2026 12:00:00 +0000\n"
#define RECEIVED_E "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID" DATE
#define RECEIVED_E_FOR(a) "Received: from c ([192.0.2.1]) by mx.test with ESMTP id ID for <" a ">" DATE
#define RECEIVED "Received: from c ([192.0.2.1]) by mx.test with SMTP id ID" DATE
#define MESSAGE "DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\n"
#define BODY "Subject: t\n\nbody\n"

/* ------------------------------------------------------------------ */
/* Helpers */

/* How a test sets smtpd up: the table's text and the options of issue 3;
 * tweak (may be NULL) changes anything else in the configuration. */
struct setup {
	const char *table;
	int vrfy, expn;
	const char *delimiter;
	unsigned max_recipients;	/* 0: the default, 100 */
	void (*tweak)(struct config *c);
	enum { BY_LINE, ALL_AT_ONCE, BY_BYTE } input;	/* how it is read */
};

/* A table in its two forms, files in their own directory. */
struct tables {
	char dir[96];
	char path[2][128];		/* [0] text, [1] cdb */
	struct users *u[2];
};

static const char *const form_name[2] = {"text", "cdb"};

/* Texts differ: both go to stderr (Check cannot carry a message that
 * long), with the form of the table that gave them. */
#define assert_text(form, got, want) assert_text_at(__LINE__, (form), (got), (want))
static void assert_text_at(int line, const char *form, const char *got,
			   const char *want)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "check_recipients.c:%d (%s table): got:\n%s\nwanted:\n%s\n",
			line, form, got, want);
		ck_abort_msg("line %d, %s table: texts differ (both on stderr)", line, form);
	}
}

static void tables_open(struct tables *t, const char *text)
{
	char err[512] = "";
	FILE *f;

	test_tmpdir(t->dir, sizeof t->dir, "users");
	snprintf(t->path[0], sizeof t->path[0], "%s/users", t->dir);
	snprintf(t->path[1], sizeof t->path[1], "%s/users.cdb", t->dir);
	f = fopen(t->path[0], "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	ck_assert_int_eq(fclose(f), 0);
	if (users_compile(t->path[0], err, sizeof err) < 0)
		ck_abort_msg("users_compile: %s", err);
	for (int i = 0; i < 2; i++) {
		t->u[i] = users_open(t->path[i], err, sizeof err);
		if (t->u[i] == NULL)
			ck_abort_msg("users_open: %s", err);
	}
}

static void tables_close(struct tables *t)
{
	for (int i = 0; i < 2; i++) {
		users_free(t->u[i]);
		ck_assert_int_eq(unlink(t->path[i]), 0);
	}
	ck_assert_int_eq(rmdir(t->dir), 0);
}

/* One conversation on a fresh spool with table u (NULL: none). */
static void run_form(struct test_run *r, const struct setup *st,
		     const struct users *u, const char *input)
{
	test_spool(r);
	test_config(&r->cfg, r->spool);
	r->cfg.domains[1] = "catchall.example";
	r->cfg.domains[2] = "moved.example";
	r->cfg.domains[3] = "plain.example";
	r->cfg.ndomains = 4;
	r->cfg.users = u;
	r->cfg.vrfy = st->vrfy;
	r->cfg.expn = st->expn;
	r->cfg.recipient_delimiter = st->delimiter;
	if (st->max_recipients > 0)
		r->cfg.max_recipients = st->max_recipients;
	if (st->tweak != NULL)
		st->tweak(&r->cfg);
	/* By default a client that waits for each reply: one line per read
	 * (a refused DATA with more input waiting would end the session,
	 * which is check_session.c's matter). */
	test_session_str(r, input, st->input == BY_LINE ? TESTIO_LINES :
				   st->input == BY_BYTE ? 1 : 0);
}

/* The conversation on the text table and on its cdb: the same transcript
 * (queue ids as "ID"), replies, and the same files, files[i] for the i-th
 * message queued (files NULL-terminated, or NULL for none). */
static void expect_both(const struct setup *st, const char *input,
			const char *replies, const char *const *files)
{
	struct tables t;

	tables_open(&t, st->table != NULL ? st->table : table);
	for (int f = 0; f < 2; f++) {
		struct test_run r = {0};
		unsigned n = 0;

		run_form(&r, st, t.u[f], input);
		assert_text(form_name[f], test_norm(&r, r.replies), replies);
		ck_assert_int_eq(r.status, 0);
		for (; files != NULL && files[n] != NULL; n++) {
			const char *got = test_queued(&r, n, NULL);
			if (got == NULL)
				ck_abort_msg("%s table: message %u not queued", form_name[f], n);
			assert_text(form_name[f], test_norm(&r, got), files[n]);
		}
		ck_assert_int_eq(test_count(&r, "new"), (int)n);
		ck_assert_int_eq(test_count(&r, "tmp"), 0);
		test_cleanup(&r);
	}
	tables_close(&t);
}

#define FILES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------------ */
/* RCPT */

START_TEST(rcpt_every_reply)
{
	/* 250 for a user, a catch-all, postmaster; 251 for a forward
	 * (spooled for its target); 551 for one who moved and 550 for
	 * nobody (nothing spooled); relaying still denied.  The same whether
	 * the client waits for each reply, pipelines it all, or it comes a
	 * byte at a time (_i: BY_LINE, ALL_AT_ONCE, BY_BYTE). */
	const struct setup st = {.input = _i};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<alice@example.org>\r\n"
		"RCPT TO:<BOB@example.ORG>\r\n"
		"RCPT TO:<carol@example.org>\r\n"
		"RCPT TO:<zed@example.org>\r\n"
		"RCPT TO:<Anyone@CatchAll.example>\r\n"
		"RCPT TO:<old@catchall.example>\r\n"
		"RCPT TO:<nameless@example.org>\r\n"
		"RCPT TO:<\"john q\"@example.org>\r\n"
		"RCPT TO:<alice@other.example>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		RCPT_E
		FORWARD_E("bob@elsewhere.example")
		MOVED_E("carol@newplace.example")
		NO_USER_E
		RCPT_E
		MOVED_E("new@elsewhere.example")
		RCPT_E
		RCPT_E
		"550 5.7.1 Relaying denied\r\n"
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH
		      XOT("alice@example.org")
		      XOT("bob@elsewhere.example")
		      XOT("Anyone@CatchAll.example")
		      XOT("nameless@example.org")
		      XOT("\"john q\"@example.org")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(rcpt_without_enhanced_codes)
{
	/* After HELO the same replies carry no enhanced codes. */
	const struct setup st = {0};
	expect_both(&st,
		"HELO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<fred@example.org>\r\n"
		"RCPT TO:<bob@example.org>\r\n"
		"RCPT TO:<carol@example.org>\r\n"
		"RCPT TO:<nobody@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING "250 mx.test\r\n" OK
		OK
		"251 User not local; will forward to <bob@elsewhere.example>\r\n"
		"551 User not local; please try <carol@newplace.example>\r\n"
		"550 No such user here\r\n"
		GO QUEUED BYE,
		FILES(RETURN_PATH XOT("fred@example.org") XOT("bob@elsewhere.example")
		      RECEIVED BODY));
}
END_TEST

START_TEST(rcpt_postmaster)
{
	/* postmaster at every domain of ours is accepted, listed or not,
	 * moved or not (RFC 5321 4.5.1), and spooled as the client wrote
	 * it; so is <postmaster> without a domain.  A postmaster@ the table
	 * forwards is forwarded. */
	const struct setup st = {
		.table = "postmaster@example.org forward alice@example.org\n"
			 "alice@example.org accept\n"
			 "postmaster@moved.example moved admin@elsewhere.example\n"
			 "@catchall.example accept\n",
	};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<PostMaster@plain.example>\r\n"
		"RCPT TO:<postmaster@moved.example>\r\n"
		"RCPT TO:<postmaster@catchall.example>\r\n"
		"RCPT TO:<postmaster@example.org>\r\n"
		"RCPT TO:<postmaster>\r\n"
		"RCPT TO:<webmaster@plain.example>\r\n"
		"RCPT TO:<postmaster@elsewhere.example>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		RCPT_E RCPT_E RCPT_E
		FORWARD_E("alice@example.org")
		RCPT_E
		NO_USER_E
		"550 5.7.1 Relaying denied\r\n"
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH
		      XOT("PostMaster@plain.example")
		      XOT("postmaster@moved.example")
		      XOT("postmaster@catchall.example")
		      XOT("alice@example.org")
		      XOT("postmaster")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(rcpt_groups_spooled_once)
{
	/* A group is spooled for every member, nested groups expanded,
	 * forward members as their targets, each address once (whatever
	 * its case); the recipients a later RCPT reaches again are not
	 * spooled again, though each RCPT gets its reply. */
	const struct setup st = {0};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<all@example.org>\r\n"
		"RCPT TO:<Alice@Example.org>\r\n"
		"RCPT TO:<bob@example.org>\r\n"
		"RCPT TO:<team@example.org>\r\n"
		"RCPT TO:<staff@example.org>\r\n"
		"RCPT TO:<INFO@catchall.example>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		RCPT_E RCPT_E FORWARD_E("bob@elsewhere.example") RCPT_E RCPT_E RCPT_E
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH
		      XOT("alice@example.org")
		      XOT("fred@example.org")
		      XOT("bob@elsewhere.example")
		      XOT("partner@other.example")
		      XOT("nameless@example.org")
		      XOT("info@catchall.example")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(rcpt_group_members_as_written)
{
	/* A member the table does not know, at one of our domains or
	 * elsewhere, is spooled as the group line writes it (the table
	 * cannot tell which domains are ours: the delivery program knows),
	 * though RCPT to it directly is 550. */
	const struct setup st = {
		.table = "list@example.org group Ghost@example.org far@away.example\n",
	};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<ghost@example.org>\r\n"
		"RCPT TO:<list@example.org>\r\n"
		"RCPT TO:<ghost@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E NO_USER_E RCPT_E NO_USER_E GO QUEUED_E BYE_E,
		FILES(RETURN_PATH XOT("Ghost@example.org") XOT("far@away.example")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(rcpt_group_one_member)
{
	/* A group that comes to one recipient: the Received: line names it,
	 * as for any message with one recipient. */
	const struct setup st = {
		.table = "solo@example.org group fred@example.org\n"
			 "fred@example.org accept Fred Smith\n",
	};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<solo@example.org>\r\n"
		"RCPT TO:<fred@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E RCPT_E RCPT_E GO QUEUED_E BYE_E,
		FILES(RETURN_PATH XOT("fred@example.org")
		      RECEIVED_E_FOR("fred@example.org") BODY));
}
END_TEST

START_TEST(rcpt_forward_then_target)
{
	/* A forward and then its target by name: one recipient. */
	const struct setup st = {
		.table = "info@example.org forward desk@example.org\n"
			 "desk@example.org accept Front Desk\n",
	};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<info@example.org>\r\n"
		"RCPT TO:<DESK@example.org>\r\n"
		"RCPT TO:<info@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		FORWARD_E("desk@example.org") RCPT_E FORWARD_E("desk@example.org")
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH XOT("desk@example.org")
		      RECEIVED_E_FOR("desk@example.org") BODY));
}
END_TEST

START_TEST(rcpt_repeat_quoted_spooled_once)
{
	/* "alice"@example.org is alice@example.org (RFC 5321 4.1.2: a
	 * quoted local part that needs no quotes is the same mailbox; the
	 * table's keys say so too): reached twice, spooled once.  Today
	 * both forms are spooled (envelope_has compares the strings the
	 * client wrote, not the mailboxes). */
	const struct setup st = {0};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<\"alice\"@example.org>\r\n"
		"RCPT TO:<team@example.org>\r\n"
		"RCPT TO:<alice@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E RCPT_E RCPT_E RCPT_E GO QUEUED_E BYE_E,
		FILES(RETURN_PATH XOT("\"alice\"@example.org") XOT("fred@example.org")
		      RECEIVED_E BODY));
}
END_TEST

/* ------------------------------------------------------------------ */
/* --max-recipients counts spooled recipients */

START_TEST(max_recipients_group_fits_exactly)
{
	/* all@ comes to 6 addresses: with a limit of 6 it fits, repeats
	 * cost nothing, and the next new address is refused. */
	const struct setup st = {.max_recipients = 6};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<all@example.org>\r\n"
		"RCPT TO:<staff@example.org>\r\n"
		"RCPT TO:<alice@example.org>\r\n"
		"RCPT TO:<bob@example.org>\r\n"
		"RCPT TO:<new@catchall.example>\r\n"
		"RCPT TO:<postmaster@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		RCPT_E RCPT_E RCPT_E FORWARD_E("bob@elsewhere.example")
		TOO_MANY_E TOO_MANY_E
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH
		      XOT("alice@example.org")
		      XOT("fred@example.org")
		      XOT("bob@elsewhere.example")
		      XOT("partner@other.example")
		      XOT("nameless@example.org")
		      XOT("info@catchall.example")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(max_recipients_group_too_big)
{
	/* With a limit of 5 all@ (6) does not fit: 452, and nothing of it
	 * is added, although its first five would have fitted. */
	const struct setup st = {.max_recipients = 5};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<all@example.org>\r\n"
		"DATA\r\n"
		"RCPT TO:<nameless@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		TOO_MANY_E
		"554 5.5.1 No valid recipients\r\n"
		RCPT_E
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH XOT("nameless@example.org")
		      RECEIVED_E_FOR("nameless@example.org") BODY));
}
END_TEST

START_TEST(max_recipients_nothing_partial)
{
	/* Limit 3: team@ takes 2; staff@ would add bob@elsewhere (the 3rd)
	 * and then partner@ (a 4th): 452, and bob@elsewhere goes too, so a
	 * third address still fits afterwards. */
	const struct setup st = {.max_recipients = 3};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<team@example.org>\r\n"
		"RCPT TO:<staff@example.org>\r\n"
		"RCPT TO:<x@catchall.example>\r\n"
		"RCPT TO:<bob@example.org>\r\n"
		"RCPT TO:<fred@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		RCPT_E TOO_MANY_E RCPT_E TOO_MANY_E RCPT_E
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH
		      XOT("alice@example.org")
		      XOT("fred@example.org")
		      XOT("x@catchall.example")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(max_recipients_per_message)
{
	/* The count starts again with each message. */
	const struct setup st = {.max_recipients = 2};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<team@example.org>\r\n"
		"RCPT TO:<bob@example.org>\r\n"
		MESSAGE
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<bob@example.org>\r\n"
		"RCPT TO:<staff@example.org>\r\n"
		"RCPT TO:<fred@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		RCPT_E TOO_MANY_E GO QUEUED_E MAIL_E
		FORWARD_E("bob@elsewhere.example") TOO_MANY_E RCPT_E GO QUEUED_E BYE_E,
		FILES(RETURN_PATH XOT("alice@example.org") XOT("fred@example.org")
		      RECEIVED_E BODY,
		      RETURN_PATH XOT("bob@elsewhere.example") XOT("fred@example.org")
		      RECEIVED_E BODY));
}
END_TEST

/* ------------------------------------------------------------------ */
/* The recipient delimiter */

START_TEST(delimiter)
{
	/* "+-": alice+tag and alice-tag are alice, spooled as written; a
	 * forward's or a group's tagged form is the entry; a tag on nobody
	 * is nobody; a local part that starts with a delimiter is not cut. */
	const struct setup st = {.delimiter = "+-"};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<alice+tag@example.org>\r\n"
		"RCPT TO:<Alice-Other+x@example.org>\r\n"
		"RCPT TO:<bob+x@example.org>\r\n"
		"RCPT TO:<carol+x@example.org>\r\n"
		"RCPT TO:<team+x@example.org>\r\n"
		"RCPT TO:<zed+x@example.org>\r\n"
		"RCPT TO:<+alice@example.org>\r\n"
		"RCPT TO:<old+x@catchall.example>\r\n"
		"RCPT TO:<a+b@catchall.example>\r\n"
		"RCPT TO:<Postmaster-abuse@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E
		RCPT_E
		RCPT_E
		FORWARD_E("bob@elsewhere.example")
		MOVED_E("carol@newplace.example")
		RCPT_E
		NO_USER_E
		NO_USER_E
		MOVED_E("new@elsewhere.example")
		RCPT_E
		RCPT_E
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH
		      XOT("alice+tag@example.org")
		      XOT("Alice-Other+x@example.org")
		      XOT("bob@elsewhere.example")
		      XOT("alice@example.org")
		      XOT("fred@example.org")
		      XOT("a+b@catchall.example")
		      XOT("Postmaster-abuse@example.org")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(no_delimiter)
{
	/* Without --recipient-delimiter a tag is part of the local part. */
	const struct setup st = {0};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<alice+tag@example.org>\r\n"
		"RCPT TO:<old+x@catchall.example>\r\n"
		"RCPT TO:<postmaster+x@example.org>\r\n"
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E NO_USER_E RCPT_E NO_USER_E BYE_E, NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals leave the transaction as it was */

START_TEST(refusals_keep_state)
{
	/* 550, 551, 452, VRFY and EXPN answers in the middle of a
	 * transaction: MAIL stays given (a second MAIL is 503), the
	 * recipients accepted so far stay, and DATA spools exactly them. */
	const struct setup st = {.vrfy = 1, .expn = 1, .max_recipients = 2};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<zed@example.org>\r\n"
		"RCPT TO:<fred@example.org>\r\n"
		"RCPT TO:<carol@example.org>\r\n"
		"VRFY nobody\r\n"
		"EXPN fred\r\n"
		"RCPT TO:<staff@example.org>\r\n"
		"VRFY smith\r\n"
		"MAIL FROM:<other@sender.example>\r\n"
		"RCPT TO:<bob@example.org>\r\n"
		MESSAGE
		"QUIT\r\n",
		GREETING EHLO_VRFY_EXPN MAIL_E
		NO_USER_E
		RCPT_E
		MOVED_E("carol@newplace.example")
		NO_MATCH_E
		"550 5.1.1 Not a mailing list: <fred@example.org>\r\n"
		TOO_MANY_E
		"553-5.1.4 User ambiguous; possibilities are\r\n"
		"553-5.1.4 Alice Smith <alice@example.org>\r\n"
		"553 5.1.4 Fred Smith <fred@example.org>\r\n"
		"503 5.5.1 Bad sequence of commands: MAIL already given\r\n"
		FORWARD_E("bob@elsewhere.example")
		GO QUEUED_E BYE_E,
		FILES(RETURN_PATH XOT("fred@example.org") XOT("bob@elsewhere.example")
		      RECEIVED_E BODY));
}
END_TEST

START_TEST(only_refused_recipients)
{
	/* Every recipient refused by the table: DATA says so (554), and
	 * nothing is spooled. */
	const struct setup st = {0};
	expect_both(&st,
		"EHLO c\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<zed@example.org>\r\n"
		"RCPT TO:<carol@example.org>\r\n"
		"DATA\r\n"
		"RSET\r\n"
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E NO_USER_E MOVED_E("carol@newplace.example")
		"554 5.5.1 No valid recipients\r\n"
		"250 2.0.0 OK\r\n" BYE_E, NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* VRFY */

START_TEST(vrfy_every_reply)
{
	/* A full address, a local part or a name, in <> or not: 250 with
	 * the full name, 251 and 551, 553 with the candidates, 550 for
	 * none, 252 for an address only the catch-all takes. */
	const struct setup st = {.vrfy = 1};
	expect_both(&st,
		"EHLO c\r\n"
		"VRFY alice@example.org\r\n"
		"VRFY <ALICE@Example.ORG>\r\n"
		"VRFY fred\r\n"
		"VRFY Alice Jones\r\n"
		"VRFY  john   q.  public \r\n"
		"VRFY nameless\r\n"
		"VRFY team@example.org\r\n"
		"VRFY bob\r\n"
		"VRFY carol@example.org\r\n"
		"VRFY alice\r\n"
		"VRFY Smith\r\n"
		"VRFY zed@example.org\r\n"
		"VRFY zed\r\n"
		"VRFY someone@catchall.example\r\n"
		"VRFY old@catchall.example\r\n"
		"VRFY\r\n"
		"QUIT\r\n",
		GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
		"250 2.1.5 Alice Smith <alice@example.org>\r\n"
		"250 2.1.5 Alice Smith <alice@example.org>\r\n"
		"250 2.1.5 Fred Smith <fred@example.org>\r\n"
		"250 2.1.5 Alice Jones <alice@other.example>\r\n"
		"250 2.1.5 John Q. Public <\"john q\"@example.org>\r\n"
		"250 2.1.5 <nameless@example.org>\r\n"
		"250 2.1.5 <team@example.org>\r\n"
		FORWARD_E("bob@elsewhere.example")
		MOVED_E("carol@newplace.example")
		"553-5.1.4 User ambiguous; possibilities are\r\n"
		"553-5.1.4 Alice Smith <alice@example.org>\r\n"
		"553 5.1.4 Alice Jones <alice@other.example>\r\n"
		"553-5.1.4 User ambiguous; possibilities are\r\n"
		"553-5.1.4 Alice Smith <alice@example.org>\r\n"
		"553 5.1.4 Fred Smith <fred@example.org>\r\n"
		NO_MATCH_E
		NO_MATCH_E
		CANNOT_E
		MOVED_E("new@elsewhere.example")
		"501 5.5.4 Syntax: VRFY <user>\r\n"
		BYE_E, NULL);
}
END_TEST

START_TEST(vrfy_after_helo)
{
	const struct setup st = {.vrfy = 1};
	expect_both(&st,
		"HELO c\r\n"
		"VRFY alice@example.org\r\n"
		"VRFY bob\r\n"
		"VRFY carol\r\n"
		"VRFY smith\r\n"
		"VRFY zed\r\n"
		"VRFY x@catchall.example\r\n"
		"QUIT\r\n",
		GREETING "250 mx.test\r\n"
		"250 Alice Smith <alice@example.org>\r\n"
		"251 User not local; will forward to <bob@elsewhere.example>\r\n"
		"551 User not local; please try <carol@newplace.example>\r\n"
		"553-User ambiguous; possibilities are\r\n"
		"553-Alice Smith <alice@example.org>\r\n"
		"553 Fred Smith <fred@example.org>\r\n"
		"550 String does not match anything\r\n"
		"252 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		BYE, NULL);
}
END_TEST

START_TEST(vrfy_delimiter_forms)
{
	/* A tagged address the table knows through the delimiter: the entry
	 * it reaches, shown by its own address (the table names that one);
	 * through the delimiter to a catch-all, or a tag on nobody: no 250. */
	const struct setup st = {.vrfy = 1, .delimiter = "+"};
	expect_both(&st,
		"EHLO c\r\n"
		"VRFY alice+tag@example.org\r\n"
		"VRFY bob+tag@example.org\r\n"
		"VRFY carol+tag@example.org\r\n"
		"VRFY a+b@catchall.example\r\n"
		"VRFY zed+tag@example.org\r\n"
		"QUIT\r\n",
		GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
		"250 2.1.5 Alice Smith <alice@example.org>\r\n"
		FORWARD_E("bob@elsewhere.example")
		MOVED_E("carol@newplace.example")
		CANNOT_E
		NO_MATCH_E
		BYE_E, NULL);
}
END_TEST

START_TEST(vrfy_postmaster)
{
	/* postmaster@ a domain of ours is accepted by RCPT whether listed
	 * or not, so VRFY must not say 550 "does not match anything" of it:
	 * 252, as for an address only a catch-all takes; nor 551 for the
	 * moved one, which RCPT takes too (before: 551). */
	const struct setup st = {.vrfy = 1};
	expect_both(&st,
		"EHLO c\r\n"
		"VRFY postmaster@example.org\r\n"
		"VRFY postmaster@moved.example\r\n"
		"VRFY postmaster\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<postmaster@example.org>\r\n"
		"RCPT TO:<postmaster@moved.example>\r\n"
		"QUIT\r\n",
		GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
		CANNOT_E CANNOT_E CANNOT_E MAIL_E RCPT_E RCPT_E BYE_E, NULL);

	/* A table without postmaster: the bare local part, in any case or
	 * quoted, and with a delimiter a tagged form, get 252 too (before:
	 * 550); a longer name is no postmaster. */
	const struct setup bare = {
		.vrfy = 1, .delimiter = "+",
		.table = "alice@example.org accept Alice\n",
	};
	expect_both(&bare,
		"EHLO c\r\n"
		"VRFY postmaster@example.org\r\n"
		"VRFY postmaster\r\n"
		"VRFY PostMaster\r\n"
		"VRFY \"postmaster\"\r\n"
		"VRFY <postmaster>\r\n"
		"VRFY postmaster+x@example.org\r\n"
		"VRFY postmasterx\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<postmaster@example.org>\r\n"
		"QUIT\r\n",
		GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
		CANNOT_E CANNOT_E CANNOT_E CANNOT_E CANNOT_E CANNOT_E
		"550 5.1.1 String does not match anything\r\n"
		MAIL_E RCPT_E BYE_E, NULL);
}
END_TEST

/* A table of n entries whose full names share the word "Jones". */
static char *jones_table(unsigned n)
{
	char *t = malloc(64 * (size_t)n + 1);
	size_t len = 0;

	ck_assert_ptr_nonnull(t);
	t[0] = '\0';
	for (unsigned i = 0; i < n; i++)
		len += (size_t)sprintf(t + len, "j%02u@example.org accept Person%02u Jones\n", i, i);
	return t;
}

/* The 553 reply for "VRFY jones" on jones_table(n). */
static char *jones_reply(unsigned n)
{
	char *t = malloc(64 * 12 + 64);
	size_t len = 0;
	unsigned shown = n < 10 ? n : 10;

	ck_assert_ptr_nonnull(t);
	len += (size_t)sprintf(t + len, "553-5.1.4 User ambiguous; possibilities are\r\n");
	for (unsigned i = 0; i < shown; i++)
		len += (size_t)sprintf(t + len, "553%c5.1.4 Person%02u Jones <j%02u@example.org>\r\n",
				       i + 1 < shown || n > shown ? '-' : ' ', i, i);
	if (n > shown)
		sprintf(t + len, "553 5.1.4 and %u more\r\n", n - shown);
	return t;
}

START_TEST(vrfy_candidates_bounded)
{
	/* At most 10 candidates, in table order, then "and N more". */
	static const unsigned counts[] = {2, 10, 11, 12, 500};

	for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
		char *tab = jones_table(counts[k]), *reply = jones_reply(counts[k]);
		char want[2048];
		const struct setup st = {.table = tab, .vrfy = 1};

		snprintf(want, sizeof want, GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
			 "%s" BYE_E, reply);
		expect_both(&st, "EHLO c\r\nVRFY Jones\r\nQUIT\r\n", want, NULL);
		free(tab);
		free(reply);
	}
	/* The last candidates of 12 are found by their own names. */
	char *tab = jones_table(12);
	const struct setup st = {.table = tab, .vrfy = 1};
	expect_both(&st, "EHLO c\r\nVRFY person11\r\nVRFY <J10@EXAMPLE.ORG>\r\nQUIT\r\n",
		    GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
		    "250 2.1.5 Person11 Jones <j11@example.org>\r\n"
		    "250 2.1.5 Person10 Jones <j10@example.org>\r\n" BYE_E, NULL);
	free(tab);
}
END_TEST

START_TEST(vrfy_off)
{
	/* Without --vrfy: 252 for anything, listed or not; VRFY is not in
	 * EHLO.  Without a table at all: the same. */
	const struct setup st = {0};
	const char *input = "EHLO c\r\n"
			    "VRFY alice@example.org\r\n"
			    "VRFY zed@example.org\r\n"
			    "VRFY smith\r\n"
			    "VRFY\r\n"
			    "QUIT\r\n";
	const char *want = GREETING EHLO_PLAIN CANNOT_E CANNOT_E CANNOT_E
			   "501 5.5.4 Syntax: VRFY <user>\r\n" BYE_E;
	expect_both(&st, input, want, NULL);

	const struct setup none = {.vrfy = 1, .expn = 1};
	struct test_run r = {0};
	run_form(&r, &none, NULL, input);
	assert_text("no", test_norm(&r, r.replies), want);
	test_cleanup(&r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* EXPN */

START_TEST(expn_every_reply)
{
	const struct setup st = {.expn = 1};
	expect_both(&st,
		"EHLO c\r\n"
		"EXPN staff\r\n"
		"EXPN <All@Example.org>\r\n"
		"EXPN team@example.org\r\n"
		"EXPN alice@example.org\r\n"
		"EXPN bob\r\n"
		"EXPN nobody\r\n"
		"EXPN smith\r\n"
		"EXPN\r\n"
		"VRFY alice@example.org\r\n"
		"QUIT\r\n",
		GREETING EHLO_REPLY "250-EXPN\r\n250 HELP\r\n"
		"250-2.1.5 Alice Smith <alice@example.org>\r\n"
		"250-2.1.5 Fred Smith <fred@example.org>\r\n"
		"250-2.1.5 <bob@elsewhere.example>\r\n"
		"250 2.1.5 <partner@other.example>\r\n"
		"250-2.1.5 Alice Smith <alice@example.org>\r\n"
		"250-2.1.5 Fred Smith <fred@example.org>\r\n"
		"250-2.1.5 <bob@elsewhere.example>\r\n"
		"250-2.1.5 <partner@other.example>\r\n"
		"250-2.1.5 <nameless@example.org>\r\n"
		"250 2.1.5 <info@catchall.example>\r\n"
		"250-2.1.5 Alice Smith <alice@example.org>\r\n"
		"250 2.1.5 Fred Smith <fred@example.org>\r\n"
		"550 5.1.1 Not a mailing list: <alice@example.org>\r\n"
		"550 5.1.1 Not a mailing list: <bob@example.org>\r\n"
		NO_MATCH_E
		"553-5.1.4 User ambiguous; possibilities are\r\n"
		"553-5.1.4 Alice Smith <alice@example.org>\r\n"
		"553 5.1.4 Fred Smith <fred@example.org>\r\n"
		"501 5.5.4 Syntax: EXPN <list>\r\n"
		CANNOT_E
		BYE_E, NULL);
}
END_TEST

START_TEST(expn_address_not_a_list)
{
	/* An address only the catch-all takes, or postmaster@ (accepted
	 * whether listed or not), is no list: 550 "Not a mailing list", not
	 * VRFY's 252 "Cannot VRFY user" (today EXPN gives that 252 for the
	 * catch-all address and 550 "does not match anything" for
	 * postmaster@, which RCPT accepts). */
	const struct setup st = {.expn = 1};
	expect_both(&st,
		"EHLO c\r\n"
		"EXPN someone@catchall.example\r\n"
		"EXPN postmaster@example.org\r\n"
		"QUIT\r\n",
		GREETING EHLO_REPLY "250-EXPN\r\n250 HELP\r\n"
		"550 5.1.1 Not a mailing list: <someone@catchall.example>\r\n"
		"550 5.1.1 Not a mailing list: <postmaster@example.org>\r\n"
		BYE_E, NULL);
	const struct setup bare = {.expn = 1, .table = "alice@example.org accept Alice\n"};
	expect_both(&bare,
		"EHLO c\r\n"
		"EXPN postmaster\r\n"
		"QUIT\r\n",
		GREETING EHLO_REPLY "250-EXPN\r\n250 HELP\r\n"
		"550 5.1.1 Not a mailing list: <postmaster>\r\n"
		BYE_E, NULL);
}
END_TEST

START_TEST(expn_after_helo)
{
	const struct setup st = {.expn = 1, .vrfy = 1};
	expect_both(&st,
		"HELO c\r\n"
		"EXPN team\r\n"
		"EXPN fred\r\n"
		"EXPN zed\r\n"
		"QUIT\r\n",
		GREETING "250 mx.test\r\n"
		"250-Alice Smith <alice@example.org>\r\n"
		"250 Fred Smith <fred@example.org>\r\n"
		"550 Not a mailing list: <fred@example.org>\r\n"
		"550 String does not match anything\r\n"
		BYE, NULL);
}
END_TEST

START_TEST(expn_off)
{
	/* Without --expn: 502, as without a table; EXPN is not in EHLO. */
	const struct setup st = {.vrfy = 1};
	expect_both(&st,
		"EHLO c\r\nEXPN team\r\nEXPN\r\nQUIT\r\n",
		GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
		"502 5.5.1 Command not implemented\r\n"
		"502 5.5.1 Command not implemented\r\n" BYE_E, NULL);
}
END_TEST

START_TEST(expn_many_members)
{
	/* A group of 150 members: one line each, the last "250 ". */
	enum { N = 150 };	/* a line of the table holds 4096 bytes */
	char *tab = malloc(N * 40 + 64), *want = malloc(N * 60 + 1024);
	size_t t = 0, w = 0;

	ck_assert_ptr_nonnull(tab);
	ck_assert_ptr_nonnull(want);
	t += (size_t)sprintf(tab + t, "big@example.org group");
	for (int i = 0; i < N; i++)
		t += (size_t)sprintf(tab + t, " m%03d@elsewhere.example", i);
	sprintf(tab + t, "\n");
	w += (size_t)sprintf(want + w, GREETING EHLO_REPLY "250-EXPN\r\n250 HELP\r\n");
	for (int i = 0; i < N; i++)
		w += (size_t)sprintf(want + w, "250%c2.1.5 <m%03d@elsewhere.example>\r\n",
				     i < N - 1 ? '-' : ' ', i);
	sprintf(want + w, BYE_E);
	const struct setup st = {.table = tab, .expn = 1};
	expect_both(&st, "EHLO c\r\nEXPN big\r\nQUIT\r\n", want, NULL);
	free(tab);
	free(want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Limits: the error budget and the junk limit */

static void two_errors(struct config *c)
{
	c->soft_errors = 0;
	c->hard_errors = 2;
	c->error_delay_ms = 100;
}

static void one_rcpt_one_error(struct config *c)
{
	c->max_recipients = 1;
	c->hard_errors = 1;
}

/* A 452 past --max-recipients is no refusal of the client's: the client
 * is to send the message to those accepted and retry the rest, so the
 * table's 452 must not spend the error budget either. */
START_TEST(table_452_spends_no_error)
{
	const struct setup st = {.tweak = one_rcpt_one_error};
	expect_both(&st,
		"EHLO c\r\nMAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<alice@example.org>\r\n"
		"RCPT TO:<fred@example.org>\r\n"
		"RCPT TO:<team@example.org>\r\n"
		"QUIT\r\n",
		GREETING EHLO_PLAIN MAIL_E RCPT_E TOO_MANY_E TOO_MANY_E BYE_E, NULL);
}
END_TEST

START_TEST(refusals_spend_the_error_budget)
{
	/* 550 and 551 at RCPT are refusals: delayed past --soft-errors,
	 * and the one that reaches --max-errors ends the session. */
	const struct setup st = {.tweak = two_errors};
	struct tables t;

	tables_open(&t, table);
	for (int f = 0; f < 2; f++) {
		struct test_run r = {0};
		run_form(&r, &st, t.u[f],
			 "EHLO c\r\nMAIL FROM:<s@sender.example>\r\n"
			 "RCPT TO:<zed@example.org>\r\n"
			 "RCPT TO:<carol@example.org>\r\n"
			 "RCPT TO:<alice@example.org>\r\n");
		assert_text(form_name[f], r.replies,
			    GREETING EHLO_PLAIN MAIL_E NO_USER_E
			    MOVED_E("carol@newplace.example")
			    "421 4.7.0 mx.test Too many errors, closing transmission channel\r\n");
		ck_assert_uint_eq(r.tio.paused_ms, 200);
		test_cleanup(&r);
	}
	tables_close(&t);
}
END_TEST

START_TEST(ambiguous_vrfy_spends_the_error_budget)
{
	/* A 553 counts as a refusal (it does count), so it must also be
	 * delayed past --soft-errors, and the one that reaches --max-errors
	 * must end the session, as every other refusal does; else a client
	 * harvests ten names a reply at full speed.  (Today the 553 path
	 * counts the error but neither pauses nor ends the session.) */
	const struct setup st = {.vrfy = 1, .tweak = two_errors};
	struct tables t;

	tables_open(&t, table);
	for (int f = 0; f < 2; f++) {
		struct test_run r = {0};
		run_form(&r, &st, t.u[f],
			 "EHLO c\r\nVRFY smith\r\nVRFY alice\r\nVRFY fred\r\n");
		assert_text(form_name[f], r.replies,
			    GREETING EHLO_REPLY "250-VRFY\r\n250 HELP\r\n"
			    "553-5.1.4 User ambiguous; possibilities are\r\n"
			    "553-5.1.4 Alice Smith <alice@example.org>\r\n"
			    "553 5.1.4 Fred Smith <fred@example.org>\r\n"
			    "553-5.1.4 User ambiguous; possibilities are\r\n"
			    "553-5.1.4 Alice Smith <alice@example.org>\r\n"
			    "553 5.1.4 Alice Jones <alice@other.example>\r\n"
			    "421 4.7.0 mx.test Too many errors, closing transmission channel\r\n");
		ck_assert_uint_eq(r.tio.paused_ms, 200);
		test_cleanup(&r);
	}
	tables_close(&t);
}
END_TEST

static void junk_three(struct config *c)
{
	c->junk_limit = 3;
}

START_TEST(vrfy_expn_are_junk)
{
	/* VRFY and EXPN answered from the table count toward --max-junk,
	 * like NOOP; a message resets the count. */
	const struct setup st = {.vrfy = 1, .expn = 1, .tweak = junk_three};
	expect_both(&st,
		"EHLO c\r\n"
		"VRFY alice@example.org\r\n"
		"EXPN team\r\n"
		"MAIL FROM:<s@sender.example>\r\n"
		"RCPT TO:<fred@example.org>\r\n"
		MESSAGE
		"VRFY fred\r\n"
		"EXPN team\r\n"
		"VRFY zed\r\n"
		"VRFY alice@example.org\r\n"
		"QUIT\r\n",
		GREETING EHLO_VRFY_EXPN
		"250 2.1.5 Alice Smith <alice@example.org>\r\n"
		"250-2.1.5 Alice Smith <alice@example.org>\r\n"
		"250 2.1.5 Fred Smith <fred@example.org>\r\n"
		MAIL_E RCPT_E GO QUEUED_E
		"250 2.1.5 Fred Smith <fred@example.org>\r\n"
		"250-2.1.5 Alice Smith <alice@example.org>\r\n"
		"250 2.1.5 Fred Smith <fred@example.org>\r\n"
		NO_MATCH_E
		"421 4.7.0 mx.test Too many commands without mail, closing transmission channel\r\n",
		FILES(RETURN_PATH XOT("fred@example.org")
		      RECEIVED_E_FOR("fred@example.org") BODY));
}
END_TEST

/* ------------------------------------------------------------------ */
/* A table that cannot be read mid-session: 451, nothing added */

/* A cdb written by hand (the way users_compile would, plus damage):
 * good@ and other@ are users, bad@ has a value of an unknown kind, grp@
 * is other@ then bad@ (no secondary records: VRFY by full address). */
static void damaged_cdb(char *path, size_t size, char *dir, size_t dirsize)
{
	static const char *const kv[] = {
		"\0smtpd-users-format", "1",
		"agood@example.org", "AGood Person",
		"aother@example.org", "A",
		"abad@example.org", "X",
		"agrp@example.org", "Gother@example.org\0bad@example.org",
	};
	static const size_t len[] = {19, 1, 17, 13, 18, 1, 16, 1, 16, 35};
	struct cdb_make cm;
	int fd;

	test_tmpdir(dir, dirsize, "damaged");
	snprintf(path, size, "%s/users.cdb", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cdb_make_start(&cm, fd), 0);
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i += 2)
		ck_assert_int_eq(cdb_make_add(&cm, kv[i], (unsigned)len[i], kv[i + 1],
					      (unsigned)len[i + 1]), 0);
	ck_assert_int_eq(cdb_make_finish(&cm), 0);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(damaged_table_451)
{
	char path[160], dir[96], err[512];
	struct users *u;
	struct test_run r = {0};
	const struct setup st = {.vrfy = 1, .expn = 1, .delimiter = "+"};

	damaged_cdb(path, sizeof path, dir, sizeof dir);
	u = users_open(path, err, sizeof err);
	if (u == NULL)
		ck_abort_msg("users_open: %s", err);
	run_form(&r, &st, u,
		 "EHLO c\r\n"
		 "MAIL FROM:<s@sender.example>\r\n"
		 "RCPT TO:<good@example.org>\r\n"
		 "RCPT TO:<bad@example.org>\r\n"
		 "RCPT TO:<grp@example.org>\r\n"
		 "RCPT TO:<bad+tag@example.org>\r\n"
		 "VRFY bad@example.org\r\n"
		 "VRFY bad+tag@example.org\r\n"
		 "EXPN grp@example.org\r\n"
		 "VRFY good@example.org\r\n"
		 "RCPT TO:<other@example.org>\r\n"
		 MESSAGE
		 "QUIT\r\n");
	/* grp@ would add other@ before it meets bad@: 451, and other@ is
	 * not added (the next RCPT adds it: a second recipient, the file
	 * says).  bad+tag@ reaches bad@ through the delimiter: 451 at RCPT
	 * and at VRFY.  EXPN grp must not show a list cut short with a 250:
	 * 451 too.  (Today VRFY bad+tag@ says 550 "does not match anything",
	 * and EXPN ignores the error of users_expand and sends "250
	 * <other@example.org>", as if that were the whole group.) */
	assert_text("damaged cdb", test_norm(&r, r.replies),
		    GREETING EHLO_VRFY_EXPN MAIL_E
		    RCPT_E
		    LOCAL_ERROR_E
		    LOCAL_ERROR_E
		    LOCAL_ERROR_E
		    LOCAL_ERROR_E
		    LOCAL_ERROR_E
		    LOCAL_ERROR_E
		    "250 2.1.5 Good Person <good@example.org>\r\n"
		    RCPT_E
		    GO QUEUED_E BYE_E);
	assert_text("damaged cdb", test_norm(&r, test_queued(&r, 0, NULL)),
		    RETURN_PATH XOT("good@example.org") XOT("other@example.org")
		    RECEIVED_E BODY);
	test_cleanup(&r);
	users_free(u);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

Suite *recipients_suite(void)
{
	Suite *s = suite_create("recipients");
	TCase *rcpt = tcase_create("rcpt");
	TCase *limits = tcase_create("limits");
	TCase *vrfy = tcase_create("vrfy");
	TCase *expn = tcase_create("expn");

	test_base_init();
	tcase_add_loop_test(rcpt, rcpt_every_reply, BY_LINE, BY_BYTE + 1);
	tcase_add_test(rcpt, rcpt_without_enhanced_codes);
	tcase_add_test(rcpt, rcpt_postmaster);
	tcase_add_test(rcpt, rcpt_groups_spooled_once);
	tcase_add_test(rcpt, rcpt_group_members_as_written);
	tcase_add_test(rcpt, rcpt_group_one_member);
	tcase_add_test(rcpt, rcpt_forward_then_target);
	tcase_add_test(rcpt, rcpt_repeat_quoted_spooled_once);
	tcase_add_test(rcpt, delimiter);
	tcase_add_test(rcpt, no_delimiter);
	tcase_add_test(rcpt, refusals_keep_state);
	tcase_add_test(rcpt, only_refused_recipients);
	tcase_add_test(rcpt, damaged_table_451);
	suite_add_tcase(s, rcpt);

	tcase_add_test(limits, max_recipients_group_fits_exactly);
	tcase_add_test(limits, max_recipients_group_too_big);
	tcase_add_test(limits, max_recipients_nothing_partial);
	tcase_add_test(limits, max_recipients_per_message);
	tcase_add_test(limits, refusals_spend_the_error_budget);
	tcase_add_test(limits, table_452_spends_no_error);
	tcase_add_test(limits, ambiguous_vrfy_spends_the_error_budget);
	tcase_add_test(limits, vrfy_expn_are_junk);
	suite_add_tcase(s, limits);

	tcase_add_test(vrfy, vrfy_every_reply);
	tcase_add_test(vrfy, vrfy_after_helo);
	tcase_add_test(vrfy, vrfy_delimiter_forms);
	tcase_add_test(vrfy, vrfy_postmaster);
	tcase_add_test(vrfy, vrfy_candidates_bounded);
	tcase_add_test(vrfy, vrfy_off);
	suite_add_tcase(s, vrfy);

	tcase_add_test(expn, expn_every_reply);
	tcase_add_test(expn, expn_address_not_a_list);
	tcase_add_test(expn, expn_after_helo);
	tcase_add_test(expn, expn_off);
	tcase_add_test(expn, expn_many_members);
	suite_add_tcase(s, expn);
	return s;
}
