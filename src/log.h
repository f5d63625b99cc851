/* log: leveled logs to stderr, as text or one JSON object per line, with secret redaction. */
#ifndef REC_LOG_H
#define REC_LOG_H
#include <stddef.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;

/* The module's state (level, format, secrets, clock, tee) lives in a log_state; one is
 * current. A test runner gives each case its own and swaps it in. */
typedef struct log_state log_state;
log_state *log_state_new(void);
void log_state_free(log_state *ls);
/* Makes ls current (NULL: the process default); returns the previous one. */
log_state *log_state_use(log_state *ls);
/* Timestamps come from wall(ud) (the engine clock: rclock_time_cb), or the real clock (NULL). */
void log_set_clock(double (*wall)(void *ud), void *ud);
/* Every line written (after redaction) is handed to tee first; it returns nonzero to print
 * the line too. NULL: print only. */
typedef int (*log_tee_fn)(void *ud, log_level level, unsigned task, const char *line);
void log_set_tee(log_tee_fn tee, void *ud);

void log_set_level(log_level level);
log_level log_get_level(void);
void log_set_json(int on);
int log_get_json(void);
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int log_parse_level(const char *s);
int log_enabled(log_level level);
/* Registers a string that must never be printed; every occurrence becomes "[REDACTED]".
 * Strings shorter than 4 bytes are ignored (too likely to hit ordinary text). */
void log_add_secret(const char *secret);
void log_clear_secrets(void);
/* A URL registered as a secret also registers its parts (password, token-like path
 * segments, query string and values, fragment), and every secret its JSON-escaped and
 * percent-encoded forms: messages shorten URLs and servers echo requests. */
/* Replaces registered secrets and credential values (Authorization:, access_token=,
 * "secret":...) in s (in place, NUL-ended, capacity cap). Used for error messages. When s
 * fills its buffer (it was cut by whoever wrote it), a tail that begins a secret goes too. */
void log_redact(char *s, size_t cap);
/* The credential names whose values log_redact hides, and the forms it recognises each in:
 * LOG_FORM_QUERY name=value (queries, forms, prose), LOG_FORM_JSON "name":"value" (also
 * single-quoted and backslash-escaped JSON), LOG_FORM_HEADER Name: value (to the end of the
 * line). Returns the i-th name (and its forms in *forms), NULL past the last one. */
#define LOG_FORM_QUERY 1u
#define LOG_FORM_JSON 2u
#define LOG_FORM_HEADER 4u
const char *log_cred_name(size_t i, unsigned *forms);
/* The redacted copy of msg[0..n) (malloc'd, NUL-ended, never cut; its length in *outn
 * when outn is not NULL), or NULL when out of memory. */
char *log_redact_dup(const char *msg, size_t n, size_t *outn);
/* The length of the longest registered form of a secret (0 when none). */
size_t log_longest_secret(void);
/* Escapes s[0..n) into out (capacity outcap, always NUL-ended): text (json=0) turns
 * control bytes into \n, \r, \t, \xNN; JSON (json=1) escapes as JSON strings do and
 * turns invalid UTF-8 into \ufffd. Cuts only between whole units and then ends with
 * " [cut]". Returns the length written. */
size_t log_escape(char *out, size_t outcap, const char *s, size_t n, int json);
/* Longest log line (the message part) written. */
#define LOG_LINE_MAX 4096
/* task: the task id, or 0 for the engine itself. */
void log_write(log_level level, unsigned task, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_write_str(log_level level, unsigned task, const char *msg);

/* Structured fields: top-level keys in JSON logs (after msg; "time", "level", "task" and
 * "msg" get a "field_" prefix), key=value after the message in text logs (quoted when the
 * value has a space, '=' or '"'). raw: the value is a number or boolean (unquoted in JSON).
 * Keys are [A-Za-z0-9_.-]; values are redacted like the message. */
typedef struct log_field {
  const char *key, *value;
  int raw;
} log_field;
void log_write_fields(log_level level, unsigned task, const char *msg, const log_field *f,
                      int n);

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, 0, __VA_ARGS__); } while (0)
#define log_info(...) log_write(LOG_INFO, 0, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, 0, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, 0, __VA_ARGS__)

#endif
