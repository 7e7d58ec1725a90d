/* Unit tests for core/outbuf: buffered output that writes as stdio would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/outbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * outbuf_pad writes what printf's %-*s does, for texts shorter than, as
 * long as and longer than the width.
 */
static void
test_pad_as_printf(void **state)
{
	static const char *const texts[] = {"", "a", "deadline", "0123456789abcdefghij"};
	static const size_t widths[] = {0, 1, 8, 18, 32, 40, 100};
	char *buf = NULL, want[256];
	size_t len = 0;

	(void)state;
	for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
		for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
			FILE *f = open_memstream(&buf, &len);
			struct outbuf o;

			assert_non_null(f);
			outbuf_init(&o, f);
			outbuf_pad(&o, texts[t], widths[w]);
			outbuf_str(&o, "|");
			outbuf_flush(&o);
			assert_int_equal(fclose(f), 0);
			snprintf(want, sizeof want, "%-*s|", (int)widths[w], texts[t]);
			assert_string_equal(buf, want);
			free(buf);
			buf = NULL;
		}
	}
}

/*
 * Pieces of every size, some larger than the buffer, make the bytes that
 * fwrite of each would; nothing reaches the stream before a flush.
 */
static void
test_pieces_in_order(void **state)
{
	struct outbuf o;
	size_t big = 3 * sizeof o.b + 17, len = 0, wlen = 0, n;
	char *piece = malloc(big), *buf = NULL, *want = NULL;
	FILE *f = open_memstream(&buf, &len), *w = open_memstream(&want, &wlen);

	(void)state;
	assert_non_null(piece);
	assert_non_null(f);
	assert_non_null(w);
	for (size_t i = 0; i < big; i++)
		piece[i] = (char)('a' + i % 26);
	outbuf_init(&o, f);
	outbuf_put(&o, "x", 1);
	assert_int_equal(fflush(f), 0);
	assert_int_equal(len, 0);
	fwrite("x", 1, 1, w);
	for (size_t i = 0; i < 500; i++) {
		n = (i * 7919) % (i % 50 == 0 ? big : 300);
		outbuf_put(&o, piece, n);
		fwrite(piece, 1, n, w);
	}
	outbuf_flush(&o);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(fclose(w), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, len);
	free(piece);
	free(buf);
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pad_as_printf),
	    cmocka_unit_test(test_pieces_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
