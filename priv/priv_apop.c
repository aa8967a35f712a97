/*
 * APOP (RFC 1939 7) in the monitor (root). The timestamp the POP3
 * greeting carries is made here, once per session, so that a worker
 * cannot choose one it has seen answered before and replay the answer.
 * The digest is checked against pop3.apop_secrets, a file of
 * "user:secret" lines that only root should be able to read: APOP needs
 * the shared secret in clear, which PAM never gives out, so an APOP
 * user has a secret of its own here, separate from the login password.
 * PAM still has its say on the account (pam_acct_mgmt: expired, locked,
 * not allowed this service). Failures take the same delay as PRIV_AUTH.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "priv.h"
#include "priv_proto.h"

/* An MD5 digest in hex: 32 digits. */
#define APOP_DIGEST_LEN	32
/* One line of the secrets file, at most. */
#define APOP_LINE_MAX	(USER_NAME_MAX + PASSWORD_MAX + 2)

static int	apop_conv(int, const struct pam_message **,
		    struct pam_response **, void *);
static int	apop_account(const struct priv *, const char *, char *,
		    size_t, char *, size_t);
static int	apop_secret_check(const struct priv *, const char *,
		    const char *, char *, size_t);

int
priv_answer_apop_challenge(struct priv *p, struct ipc_msg *m)
{
	struct reason	 r;
	struct ipc_msg	*rep;

	if (ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	if (p->cfg->pop3.apop_secrets[0] == '\0') {
		reason_set(&r, "5.5.1", "APOP is not offered");
		return priv_reply_fail(p, &r);
	}
	/* RFC 1939 7: unique per greeting; the session id makes it so */
	snprintf(p->apop_stamp, sizeof(p->apop_stamp), "<%ld.%lld.%s@%s>",
	    (long)getpid(), (long long)time(NULL), p->sid, p->cfg->hostname);
	rep = priv_reply_begin(p);
	ipc_put_str(rep, p->apop_stamp);
	return priv_reply_send(p, -1);
}

/* No prompts are expected when only the account is checked. */
static int
apop_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)arg;
	return PAM_CONV_ERR;
}

/*
 * pam_acct_mgmt for a user whose secret was right. Returns 0 with the
 * name PAM settled on in canon, 1 when the account may not log in, -1
 * when PAM itself failed; why says what.
 */
static int
apop_account(const struct priv *p, const char *user, char *canon,
    size_t canonsz, char *why, size_t whysz)
{
	struct pam_conv	 pc = { apop_conv, NULL };
	pam_handle_t	*ph = NULL;
	const void	*item;
	int		 rc;

	if ((ph = priv_pam_start(p, user, &pc, why, whysz)) == NULL)
		return -1;
	rc = pam_acct_mgmt(ph, PAM_SILENT);
	if (rc == PAM_SUCCESS) {
		if (pam_get_item(ph, PAM_USER, &item) == PAM_SUCCESS &&
		    item != NULL)
			snprintf(canon, canonsz, "%s", (const char *)item);
		else
			snprintf(canon, canonsz, "%s", user);
	} else
		snprintf(why, whysz, "account: %s", pam_strerror(ph, rc));
	pam_end(ph, rc);
	switch (rc) {
	case PAM_SUCCESS:
		return 0;
	case PAM_USER_UNKNOWN:
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTH_ERR:
		return 1;
	default:
		return -1;
	}
}

/*
 * Looks user up in the secrets file and compares MD5(timestamp secret)
 * with digest (lower case hex). Returns 0 on a match, 1 on a mismatch
 * or an unknown user, -1 when the file cannot be read.
 */
static int
apop_secret_check(const struct priv *p, const char *user, const char *digest,
    char *why, size_t whysz)
{
	const char	*path = p->cfg->pop3.apop_secrets;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1], *line = NULL, *colon;
	size_t		 cap = 0, ulen = strlen(user);
	ssize_t		 n;
	struct stat	 st;
	EVP_MD_CTX	*ctx;
	FILE		*fp;
	int		 fd, rc = 1;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) ==
	    -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warn("apop_secrets %s", path);
		if (fd != -1)
			close(fd);
		snprintf(why, whysz, "cannot read the APOP secrets");
		return -1;
	}
	if (st.st_mode & 077)
		log_warnx("apop_secrets %s may be read by others (mode %o)",
		    path, (unsigned)st.st_mode & 07777);
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		snprintf(why, whysz, "cannot read the APOP secrets");
		return -1;
	}
	snprintf(why, whysz, "no APOP secret for this user");
	while ((n = getline(&line, &cap, fp)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n > APOP_LINE_MAX || line[0] == '#' ||
		    (colon = strchr(line, ':')) == NULL ||
		    (size_t)(colon - line) != ulen ||
		    memcmp(line, user, ulen) != 0)
			continue;
		if ((ctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex2(ctx, EVP_md5(), NULL) != 1 ||
		    EVP_DigestUpdate(ctx, p->apop_stamp,
		    strlen(p->apop_stamp)) != 1 ||
		    EVP_DigestUpdate(ctx, colon + 1, strlen(colon + 1)) != 1 ||
		    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
		    mdlen * 2 != APOP_DIGEST_LEN) {
			EVP_MD_CTX_free(ctx);
			snprintf(why, whysz, "MD5 not available");
			rc = -1;
			break;
		}
		EVP_MD_CTX_free(ctx);
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		if (CRYPTO_memcmp(hex, digest, APOP_DIGEST_LEN) == 0)
			rc = 0;
		else
			snprintf(why, whysz, "wrong APOP digest");
		explicit_bzero(hex, sizeof(hex));
		break;
	}
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(fp);
	return rc;
}

int
priv_answer_apop(struct priv *p, struct ipc_msg *m)
{
	char		 user[USER_NAME_MAX + 1], digest[APOP_DIGEST_LEN + 1];
	char		 canon[USER_NAME_MAX + 1], why[256];
	struct timespec	 start;
	struct passwd	*pw = NULL;
	size_t		 i;
	int		 rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (ipc_get_str(m, user, sizeof(user), USER_NAME_MAX) == -1 ||
	    ipc_get_str(m, digest, sizeof(digest), APOP_DIGEST_LEN) == -1 ||
	    ipc_get_end(m) == -1)
		return PRIV_H_REFUSE;
	rc = strlen(digest) == APOP_DIGEST_LEN && user[0] != '\0' ? 0 : 1;
	for (i = 0; rc == 0 && digest[i] != '\0'; i++) {
		if (!isxdigit((unsigned char)digest[i]))
			rc = 1;
		digest[i] = (char)tolower((unsigned char)digest[i]);
	}
	if (rc != 0)
		snprintf(why, sizeof(why), "malformed APOP command");
	else
		rc = apop_secret_check(p, user, digest, why, sizeof(why));
	if (rc == 0)
		rc = apop_account(p, user, canon, sizeof(canon), why,
		    sizeof(why));
	if (rc == 0 && (pw = getpwnam(canon)) == NULL) {
		rc = 1;
		snprintf(why, sizeof(why), "no such user in the passwd "
		    "database");
	}
	if (rc == 0)	/* the passwd database's name, as in priv_auth.c */
		return priv_auth_ok(p, pw->pw_name, "APOP");
	return priv_auth_fail(p, &start, user, "APOP", why, rc == -1);
}
