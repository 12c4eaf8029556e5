/*
 * users_cdb.c: the compiled (cdb) form of the table as a connection reads
 * it: recognising it, looking its records up, reading its secondary lists,
 * and checking it record by record for users_check.  users_compile()
 * writes it.
 *
 * The cdb form (tinycdb: mapped, never read whole, looked up with
 * cdb_find) holds these records:
 *     "\0smtpd-users-format"  -> USERS_CDB_FORMAT
 *     'a' KEY                 -> kind letter (A F M G), then the arguments
 *                                as in the text record (name; target;
 *                                members), each ending in NUL
 *     'l' LOCALPART           -> the positions in the file of the 'a'
 *                                records with that local part
 *     'n' WORD                -> the positions of the 'a' records of the
 *                                accept entries with that word in their
 *                                full name (lowercase)
 * A list holds 4-byte little-endian positions in table order, so its
 * length is its count, and a VRFY for "Smith" reads the entries it shows
 * and nothing else.  One record per distinct secondary key (not one per
 * entry) keeps cdb's hash chains short even when thousands of entries
 * share a local part.  A name of several words is found through its rarest
 * word's list.
 */
#include <cdb.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "users_impl.h"

/* ---------------------------------------------------------------------
 * Records
 */

/* Is a cdb value well formed for its kind?  Sets r->kind, args, end. */
int users_cdb_value(const char *v, size_t n, struct rec *r)
{
	const char *c, *s;
	size_t count = 0, longest = 0;

	if (n == 0)
		return 0;
	switch (v[0]) {
	case 'A': r->kind = USERS_ACCEPT; break;
	case 'F': r->kind = USERS_FORWARD; break;
	case 'M': r->kind = USERS_MOVED; break;
	case 'G': r->kind = USERS_GROUP; break;
	default: return 0;
	}
	r->args = v + 1;
	r->end = v + n;
	if (n > 1 && v[n - 1] != '\0')
		return 0;
	for (c = r->args; (s = arg_next(&c, r->end)) != NULL; count++) {
		size_t len = strlen(s);
		if (len == 0)
			return 0;
		if (len > longest)
			longest = len;
	}
	switch (r->kind) {
	case USERS_ACCEPT:
		/* The name goes into VRFY's replies: a line end in it would
		 * forge a reply line.  The text form never lets one in. */
		return count <= 1 && longest <= USERS_NAME_MAX &&
		       (count == 0 || users_name_ok((const unsigned char *)r->args, longest, NULL, 0));
	case USERS_FORWARD:
	case USERS_MOVED: {
		/* The target goes into the 251 or 551 reply and the spooled
		 * file: it must be an address, as --check-users asks. */
		char canon[KEY_MAX + 1];
		return count == 1 && longest <= ADDRESS_MAX &&
		       users_key_mailbox(r->args, longest, canon) > 0;
	}
	default: return count >= 1 && longest <= ADDRESS_MAX;
	}
}

/* A cdb record of type t for s: 1 found (value in *v, *vn), 0 not, -1 a
 * damaged file.  The cdb handle is copied: cdb_find keeps its position in
 * it, and the table stays const. */
int users_cdb_get(const struct users *u, char t, const char *s, size_t n,
		  const char **v, size_t *vn)
{
	struct cdb c = u->cdb;
	char key[1 + USERS_LINE_MAX];
	int rc;

	if (n + 1 > sizeof key)
		return 0;
	key[0] = t;
	memcpy(key + 1, s, n);
	rc = cdb_find(&c, key, (unsigned)(n + 1));
	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	*vn = cdb_datalen(&c);
	*v = cdb_getdata(&c);
	return *v != NULL ? 1 : -1;
}

/*
 * Does the file end where its hash tables do?  A cdb is records, then 256
 * hash tables, the last one ending the file; the 2048-byte table of
 * contents at the start says where each lies.  A copy cut short loses the
 * end of its tables, yet lookups that miss the lost slots still work:
 * without this check such a table was taken, and some recipients got 451.
 */
static unsigned long long le32(const unsigned char *p)
{
	return p[0] | (unsigned long long)p[1] << 8 | (unsigned long long)p[2] << 16 |
	       (unsigned long long)p[3] << 24;
}

static int whole_cdb(const struct cdb *c)
{
	const unsigned char *toc = c->cdb_mem;
	unsigned long long end = 2048, size = c->cdb_fsize;

	/* Inline: 512 calls of cdb_unpack() were 9,000 instructions of a
	 * connection's 167,000 (make bench, users table). */
	for (unsigned i = 0; i < 256; i++, toc += 8) {
		unsigned long long pos = le32(toc), stop = pos + 8 * le32(toc + 4);
		if (pos < 2048 || stop > size)
			return 0;
		if (stop > end)
			end = stop;
	}
	return end == size;
}

/* Is fd our cdb?  1 yes (u holds the mapping), 0 no, -1 a cdb of another
 * format version or not whole (reason in p). */
int users_cdb_open(struct users *u, int fd, struct parse *p)
{
	const char *v;
	size_t vn;
	int rc;

	if (cdb_init(&u->cdb, fd) != 0) {
		if (errno == EPROTO)	/* under 2048 bytes: text */
			return 0;
		/* mmap failed (an address-space limit?): the file is not
		 * read as text, which it may well not be. */
		users_parse_error(p, 0, "cannot map: %s", strerror(errno));
		return -1;
	}
	u->form = FORM_CDB;
	rc = users_cdb_get(u, USERS_CDB_MAGIC[0], &USERS_CDB_MAGIC[1],
		     USERS_CDB_MAGIC_LEN - 1, &v, &vn);
	if (rc <= 0) {
		cdb_free(&u->cdb);
		u->form = FORM_TEXT;
		return 0;
	}
	u->mapped = u->cdb.cdb_fsize;
	if (!whole_cdb(&u->cdb)) {
		users_parse_error(p, 0, "not a valid compiled table (damaged or cut short): "
				  "compile it again");
		return -1;
	}
	if (vn != strlen(USERS_CDB_FORMAT) || memcmp(v, USERS_CDB_FORMAT, vn) != 0) {
		users_parse_error(p, 0, "a cdb of another format (not %s): compile the table again",
				  USERS_CDB_FORMAT);
		return -1;
	}
	return 1;
}

/* ---------------------------------------------------------------------
 * Secondary lists
 */

/* The list of type t for s (empty if none): 0, or -1 if damaged. */
int users_cdb_list(const struct users *u, char t, const char *s, struct plist *l)
{
	const char *v;
	size_t vn;
	int rc;

	l->p = NULL;
	l->n = 0;
	if (*s == '\0')
		return 0;
	rc = users_cdb_get(u, t, s, strlen(s), &v, &vn);
	if (rc <= 0)
		return rc;
	if (vn % 4 != 0)
		return -1;
	l->p = (const unsigned char *)v;
	l->n = vn / 4;
	return 0;
}

/* The entry whose 'a' record is at pos, its key copied into key[KEY_MAX
 * + 1]: 0, or -1 if there is no such record. */
int users_cdb_at(const struct users *u, uint32_t pos, struct rec *r, char *key)
{
	const unsigned char *head = cdb_get(&u->cdb, 8, pos), *rec;
	unsigned kn, vn;

	if (head == NULL)
		return -1;
	kn = cdb_unpack(head);
	vn = cdb_unpack(head + 4);
	if (kn < 2 || kn > KEY_MAX + 1 || vn > u->cdb.cdb_dend ||
	    (rec = cdb_get(&u->cdb, kn + vn, pos + 8)) == NULL || rec[0] != 'a')
		return -1;
	memcpy(key, rec + 1, kn - 1);
	key[kn - 1] = '\0';
	if (memchr(key, '\0', kn - 1) != NULL || !users_cdb_value((const char *)rec + kn, vn, r))
		return -1;
	r->key = key;
	return 0;
}

/* ---------------------------------------------------------------------
 * Checking
 */

/* The target or members of an entry of a cdb: valid addresses. */
static void check_cdb_addresses(struct parse *p, unsigned long i, const char *key,
				const struct rec *r)
{
	char canon[KEY_MAX + 1], s[80];
	const char *c = r->args, *a;

	if (r->kind == USERS_ACCEPT)
		return;
	while ((a = arg_next(&c, r->end)) != NULL) {
		if (users_key_mailbox(a, strlen(a), canon) == 0) {
			users_parse_error(p, 0, "record %lu: bad address \"%s\" in \"%s\"",
					  i, users_show(s, sizeof s, a, strlen(a)), key);
			return;
		}
	}
}

/* Does entry r belong in the list of key k (type byte, then the local part
 * or the name word)? */
static int list_fits(const char *k, size_t kn, const struct rec *r)
{
	size_t n = strlen(r->key), l = users_key_local_len(r->key, n);
	const char *c = r->args, *name, *w;

	if (k[0] == 'l')
		return r->key[0] != '@' && l == kn - 1 && memcmp(r->key, k + 1, l) == 0;
	if (r->kind != USERS_ACCEPT || (name = arg_next(&c, r->end)) == NULL)
		return 0;
	for (w = name; *w != '\0';) {
		size_t len = strcspn(w, " ");
		if (len == kn - 1) {
			size_t i = 0;
			while (i < len && lower((unsigned char)w[i]) == (unsigned char)k[1 + i])
				i++;
			if (i == len)
				return 1;
		}
		w += len + (w[len] == ' ');
	}
	return 0;
}

/* A list: positions in increasing order, each of an entry that fits. */
static void check_cdb_list(struct parse *p, const struct users *u, unsigned long i,
			   const char *k, size_t kn, const char *v, size_t vn)
{
	struct plist l = {(const unsigned char *)v, vn / 4};
	char key[KEY_MAX + 1], s[80];
	struct rec r;

	if (vn == 0 || vn % 4 != 0) {
		users_parse_error(p, 0, "record %lu: bad list", i);
		return;
	}
	for (size_t j = 0; j < l.n; j++) {
		uint32_t pos = plist_at(&l, j);
		if ((j > 0 && pos <= plist_at(&l, j - 1)) || users_cdb_at(u, pos, &r, key) < 0) {
			users_parse_error(p, 0, "record %lu: list \"%s\" has a bad position %u",
					  i, users_show(s, sizeof s, k, kn), (unsigned)pos);
			return;
		}
		if (!list_fits(k, kn, &r)) {
			users_parse_error(p, 0, "record %lu: list \"%s\" holds \"%s\", which does not fit",
					  i, users_show(s, sizeof s, k, kn), key);
			return;
		}
	}
}

/* A cdb, record by record: well-formed values, canonical keys, lists that
 * name existing entries.  Errors as "file: record N: reason". */
static void check_cdb_record(struct parse *p, const struct users *u, unsigned long i,
			     const char *k, size_t kn, const char *v, size_t vn)
{
	char canon[KEY_MAX + 1], s[80];
	struct rec r;

	if (kn == USERS_CDB_MAGIC_LEN && memcmp(k, USERS_CDB_MAGIC, kn) == 0)
		return;
	if (kn > 1 && k[0] == 'a') {
		size_t n = k[1] == '@' ? users_key_catchall(k + 1, kn - 1, canon)
				       : users_key_mailbox(k + 1, kn - 1, canon);
		if (n != kn - 1 || memcmp(canon, k + 1, n) != 0)
			users_parse_error(p, 0, "record %lu: key \"%s\" is not a canonical address",
					  i, users_show(s, sizeof s, k + 1, kn - 1));
		else if (!users_cdb_value(v, vn, &r))
			users_parse_error(p, 0, "record %lu: bad value for \"%s\"", i, canon);
		else if (k[1] == '@' && (r.kind != USERS_ACCEPT || r.args < r.end))
			users_parse_error(p, 0, "record %lu: catch-all \"%s\" is not a plain accept",
					  i, canon);
		else
			check_cdb_addresses(p, i, canon, &r);
		return;
	}
	if (kn > 1 && (k[0] == 'l' || k[0] == 'n')) {
		check_cdb_list(p, u, i, k, kn, v, vn);
		return;
	}
	users_parse_error(p, 0, "record %lu: unknown key \"%s\"", i, users_show(s, sizeof s, k, kn));
}

void users_cdb_check(struct parse *p, const struct users *u)
{
	struct cdb c = u->cdb;
	unsigned pos;
	unsigned long i = 0;
	int rc;

	cdb_seqinit(&pos, &c);
	while ((rc = cdb_seqnext(&pos, &c)) > 0) {
		const char *k = cdb_getkey(&c), *v = cdb_getdata(&c);
		if (k == NULL || v == NULL) {
			rc = -1;
			break;
		}
		check_cdb_record(p, u, ++i, k, cdb_keylen(&c), v, cdb_datalen(&c));
	}
	if (rc < 0)
		users_parse_error(p, 0, "damaged cdb after record %lu", i);
}
