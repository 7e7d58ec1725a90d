/* Loading the sealing secret key for the verbs that open sealed secrets. */
#ifndef TW_SECKEY_H
#define TW_SECKEY_H

struct seal_sec;

/*
 * Loads the secret key file at path, reading its passphrase from descriptor
 * fd (fd >= 0) or the terminal when the file is protected.  Returns the key
 * (free with seal_secret_free), or NULL after a message with *status set.
 */
struct seal_sec *seckey_load(const char *path, int fd, int *status);

/*
 * As seckey_load, but prints only the prompt's warnings: returns NULL with
 * *status, *err (SEAL_ERR_PASSPHRASE: a passphrase was read and is wrong;
 * SEAL_ERR otherwise) and *cause (the caller frees it).
 */
struct seal_sec *seckey_try(const char *path, int fd, int *status, int *err, char **cause);

#endif
