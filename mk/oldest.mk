# The oldest ansible-core the collection supports (meta/runtime.yml,
# docs/ansible.md), in its own venv next to the collections tree (never inside
# the repository, which the artifact and the linters walk): collection sanity
# and the syntax of every playbook on that version (run by `make test`).
# tests/ansible/test_install_tarball.py converges a cluster with it as well
# (it builds this venv through `make venv-oldest`).
ANSIBLE_OLDEST ?= 2.16
OLDEST_VENV ?= $(COLLECTIONS_DIR).oldest
OLDEST_SANITY_DIR := $(COLLECTIONS_DIR)/sanity-oldest/ansible_collections/linuxha/vrrp
# ansible-core 2.16's ansible-test bootstraps pip 23.1.2 (same stand-in as mk/ansible.mk's).
GET_PIP_OLDEST := $(HOME)/.ansible/test/cache/get_pip_23_1_2.py
# pylint and pep8 judge the code, not the controller: they run on the newest
# (mk/ansible.mk) and their large requirements would double this target's time.
OLDEST_SANITY_SKIP := --skip-test pylint --skip-test pep8

.PHONY: venv-oldest ansible-oldest print-oldest-venv

$(OLDEST_VENV)/.stamp: mk/oldest.mk
	rm -rf $(OLDEST_VENV) && python3 -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q 'ansible-core==$(ANSIBLE_OLDEST).*'
	touch $@

venv-oldest: $(OLDEST_VENV)/.stamp

$(GET_PIP_OLDEST): tools/ansible-test/get_pip.py
	mkdir -p $(dir $@) && cp $< $@

ansible-oldest: collections venv-oldest $(GET_PIP_OLDEST)
	@echo "== ansible-core $$($(OLDEST_VENV)/bin/python -c 'import ansible; print(ansible.__version__)') (the oldest supported)"
	rm -rf $(COLLECTIONS_DIR)/sanity-oldest && mkdir -p $(OLDEST_SANITY_DIR)
	git ls-files -co --exclude-standard -z | grep -zEv '^(\.venv|\.ci/|bench/|tools/|molecule/|tests/(lab|unit|fixtures|ansible)/)' \
	  | xargs -0 cp --parents -t $(OLDEST_SANITY_DIR)
	cd $(OLDEST_SANITY_DIR) && PATH=$(OLDEST_VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_DIR) \
	  $(OLDEST_VENV)/bin/ansible-test sanity --python 3.11 --color no --requirements $(OLDEST_SANITY_SKIP)
	for p in playbooks/*.yml; do \
	  ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_DIR) $(OLDEST_VENV)/bin/ansible-playbook --syntax-check \
	    -i inventories/seed/hosts.yml $$p >/dev/null || exit 1; done

TEST_TARGETS += ansible-oldest

print-oldest-venv:
	@echo $(OLDEST_VENV)
