# Builds one man page: cmake -DSCDOC=PROGRAM -DIN=PAGE.scd -DOUT=PAGE
#   [-DCONFDIR=DIR -DSTATEDIR=DIR] [-DGZIP=PROGRAM, to write PAGE.gz too] -P scdoc.cmake
# The pages name /etc/tokenwarden and /var/lib/tokenwarden; a build for other
# paths (TW_CONFDIR, TW_STATEDIR) gets them replaced.
# scdoc reads standard input and writes standard output; the page is written
# beside OUT first and renamed, so a failed build leaves no page behind that
# make would take as up to date.
set(page "${IN}")
if(DEFINED CONFDIR AND DEFINED STATEDIR)
	file(READ "${IN}" text)
	string(REPLACE "/etc/tokenwarden" "${CONFDIR}" text "${text}")
	string(REPLACE "/var/lib/tokenwarden" "${STATEDIR}" text "${text}")
	set(page "${OUT}.scd.tmp")
	file(WRITE "${page}" "${text}")
endif()
execute_process(COMMAND "${SCDOC}"
	INPUT_FILE "${page}"
	OUTPUT_FILE "${OUT}.tmp"
	ERROR_VARIABLE err
	RESULT_VARIABLE rc)
if(NOT page STREQUAL IN)
	file(REMOVE "${page}")
endif()
if(NOT rc EQUAL 0)
	file(REMOVE "${OUT}.tmp")
	message(FATAL_ERROR "scdoc ${IN}: ${err}")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
# The page as it is installed: compressed, with no name or time in the header.
if(DEFINED GZIP)
	execute_process(COMMAND "${GZIP}" -9nc "${OUT}" OUTPUT_FILE "${OUT}.gz" RESULT_VARIABLE rc)
	if(NOT rc EQUAL 0)
		file(REMOVE "${OUT}.gz")
		message(FATAL_ERROR "gzip ${OUT} failed")
	endif()
endif()
