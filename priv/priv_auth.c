/*
 * Password checks for the workers, in the monitor (root): PAM
 * (pam_authenticate, then pam_acct_mgmt) with the service named by
 * pam_service. The password arrives in a PRIV_AUTH request and is wiped
 * as soon as PAM has it. A failure is answered only after a fixed delay
 * (auth_fail_delay, plus a penalty that grows with recent failures from
 * the same client address), measured from the start of the request, so
 * an unknown user and a wrong password look the same from outside.
 */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_table.h"
#include "log.h"
#include "priv.h"
#include "priv_proto.h"

struct conv_data {
	const char	*password;
};

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	struct conv_data	*cd = arg;
	struct pam_response	*r;
	int			 i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			/* a login has one secret; answer every prompt with it */
			if ((r[i].resp = strdup(cd->password)) == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			log_debug("pam: %s", msg[i]->msg);
			break;
		default:
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		if (r[i].resp != NULL) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	free(r);
	return PAM_CONV_ERR;
}

/* Keeps PAM modules from adding their own delay; we add one ourselves. */
static void
no_delay(int status, unsigned int usec, void *arg)
{
	(void)status;
	(void)usec;
	(void)arg;
}

pam_handle_t *
priv_pam_start(const struct priv *p, const char *user,
    const struct pam_conv *pc, char *why, size_t whysz)
{
	pam_handle_t	*ph = NULL;
	int		 rc;

	if ((rc = pam_start(p->cfg->pam_service, user, pc, &ph)) !=
	    PAM_SUCCESS) {
		snprintf(why, whysz, "pam_start: %s", pam_strerror(ph, rc));
		return NULL;
	}
	/*
	 * Only a real address: a name such as "local" (inetd on a pipe)
	 * sends PAM's audit code to the resolver, for seconds at worst.
	 */
	if (p->have_peer)
		(void)pam_set_item(ph, PAM_RHOST, p->client);
	return ph;
}

/*
 * Runs the PAM transaction. Returns 0 on success with the user name PAM
 * settled on in user_out, 1 on a refusal, -1 when PAM itself failed.
 */
static int
pam_check(const struct priv *p, const char *user, const char *password,
    char *user_out, size_t outsz, char *why, size_t whysz)
{
	struct pam_conv	 pc;
	struct conv_data cd;
	pam_handle_t	*ph = NULL;
	const void	*item;
	int		 rc, ret = 1;

	cd.password = password;
	pc.conv = conv;
	pc.appdata_ptr = &cd;
	if ((ph = priv_pam_start(p, user, &pc, why, whysz)) == NULL)
		return -1;
	(void)pam_set_item(ph, PAM_FAIL_DELAY, (const void *)no_delay);
	rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(ph, PAM_SILENT);
	switch (rc) {
	case PAM_SUCCESS:
		ret = 0;
		if (pam_get_item(ph, PAM_USER, &item) == PAM_SUCCESS &&
		    item != NULL)
			snprintf(user_out, outsz, "%s", (const char *)item);
		else
			snprintf(user_out, outsz, "%s", user);
		break;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_MAXTRIES:
	case PAM_CRED_INSUFFICIENT:
		snprintf(why, whysz, "%s", pam_strerror(ph, rc));
		break;
	default:
		snprintf(why, whysz, "%s", pam_strerror(ph, rc));
		ret = -1;
		break;
	}
	pam_end(ph, rc);
	return ret;
}

/* Whether this session may carry a password without TLS. */
static bool
plaintext_allowed(const struct priv *p)
{
	if (p->proto == PRIV_PROTO_SMTP)
		return p->cfg->smtp.allow_plaintext_auth;
	/* POP3: loopback counts as secure (RFC 2595 leaves it to us) */
	return p->cfg->pop3.allow_plaintext_login || p->peer_local;
}

static void
sleep_until(const struct timespec *start, int seconds)
{
	struct timespec	until = *start;

	until.tv_sec += seconds;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
	    NULL) == EINTR)
		;
}

int
priv_answer_auth(struct priv *p, struct ipc_msg *m)
{
	static char	 password[PASSWORD_MAX + 1];
	char		 user[USER_NAME_MAX + 1], mech[32];
	char		 canon[USER_NAME_MAX + 1], why[256];
	struct timespec	 start;
	struct passwd	*pw;
	uint32_t	 flags;
	int		 rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	rc = ipc_get_str(m, user, sizeof(user), USER_NAME_MAX);
	if (rc == 0)
		rc = ipc_get_str(m, password, sizeof(password), PASSWORD_MAX);
	if (rc == 0)
		rc = ipc_get_str(m, mech, sizeof(mech), sizeof(mech) - 1);
	if (rc == 0)
		rc = ipc_get_u32(m, &flags);
	if (rc == 0)
		rc = ipc_get_end(m);
	if (rc == -1) {
		explicit_bzero(password, sizeof(password));
		explicit_bzero(m->buf, sizeof(m->buf));
		return PRIV_H_REFUSE;
	}
	explicit_bzero(m->buf, sizeof(m->buf));

	/*
	 * The worker refuses a password sent in clear; a worker that passes
	 * one on anyway is broken or hostile (defence in depth: the TLS flag
	 * is its word, the client's address is the kernel's).
	 */
	if (!(flags & PRIV_AUTH_TLS) && !plaintext_allowed(p)) {
		explicit_bzero(password, sizeof(password));
		log_warnx("worker passed on a password sent without TLS");
		return PRIV_H_DROP;
	}

	if (user[0] == '\0' || password[0] == '\0') {
		rc = 1;
		snprintf(why, sizeof(why), "empty user name or password");
	} else
		rc = pam_check(p, user, password, canon, sizeof(canon), why,
		    sizeof(why));
	explicit_bzero(password, sizeof(password));

	if (rc == 0 && (pw = getpwnam(canon)) == NULL) {
		rc = 1;
		snprintf(why, sizeof(why), "no such user in the passwd "
		    "database");
	}
	/*
	 * The session's user is the passwd database's name, as delivery
	 * uses (resolve.c): with a case-insensitive database, a login as
	 * "Alice" must open alice's maildrop, not make one for "Alice".
	 */
	if (rc == 0)
		return priv_auth_ok(p, pw->pw_name, mech);
	return priv_auth_fail(p, &start, user, mech, why, rc == -1);
}

int
priv_auth_ok(struct priv *p, const char *user, const char *mech)
{
	struct ipc_msg	*rep;

	if (p->have_peer)
		client_table_auth_ok((struct sockaddr *)&p->peer);
	p->authed = true;
	snprintf(p->user, sizeof(p->user), "%s", user);
	/* this worker serves no other session (pool_worker.c) */
	if (!p->inetd && (p->proto == PRIV_PROTO_SMTP ?
	    p->cfg->smtp.pool.retire_after_login :
	    p->cfg->pop3.pool.retire_after_login))
		p->retire = true;
	log_info("login user=%s client=%s method=%s", p->user, p->client,
	    mech);
	rep = priv_reply_begin(p);
	ipc_put_str(rep, p->user);
	if (p->proto == PRIV_PROTO_SMTP) {
		/* for the From: a submitted message may lack (smtp_hdr.c) */
		struct passwd	*pw = getpwnam(p->user);

		priv_fullname(pw != NULL ? pw->pw_gecos : NULL, p->fullname,
		    sizeof(p->fullname));
		ipc_put_str(rep, p->fullname);
	}
	return priv_reply_send(p, -1);
}

int
priv_auth_fail(struct priv *p, const struct timespec *start,
    const char *user, const char *mech, const char *why, bool temporary)
{
	struct reason	r;
	char		quoted[2 * USER_NAME_MAX + 3];
	int		delay;

	delay = p->cfg->auth_fail_delay;
	if (p->have_peer) {
		delay += client_table_penalty((struct sockaddr *)&p->peer);
		client_table_auth_failed((struct sockaddr *)&p->peer);
	}
	log_info("failed login user=%s client=%s method=%s reason=\"%s\"",
	    log_value(user, quoted, sizeof(quoted)), p->client, mech, why);
	sleep_until(start, delay);
	if (temporary)
		reason_set(&r, "4.7.0", "temporary authentication failure");
	else
		reason_set(&r, "5.7.8", "authentication failed");
	return priv_reply_fail(p, &r);
}
