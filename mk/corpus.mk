# The real-world keepalived.conf corpus (tests/fixtures/corpus, origins in its
# ORIGINS file): how many pass the agent's check-config, and the first error of
# the others grouped by keyword. A report, not a gate (tests/unit/test_corpus.py is).
.PHONY: corpus

corpus: venv
	PYTHONPATH=$(AGENT) $(PY) tools/corpus.py $(CORPUS_ARGS)
