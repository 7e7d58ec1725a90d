# Builds one man page: cmake -DSCDOC=PROGRAM -DIN=PAGE.scd -DOUT=PAGE -P scdoc.cmake
# scdoc reads standard input and writes standard output; the page is written
# beside OUT first and renamed, so a failed build leaves no page behind that
# make would take as up to date.
execute_process(COMMAND "${SCDOC}"
	INPUT_FILE "${IN}"
	OUTPUT_FILE "${OUT}.tmp"
	ERROR_VARIABLE err
	RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	file(REMOVE "${OUT}.tmp")
	message(FATAL_ERROR "scdoc ${IN}: ${err}")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
