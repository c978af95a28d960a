# `make demo`: two-node cluster deployed with site.yml in podman, a failover shown.
.PHONY: demo demo-clean

demo: venv collections
	PYTHONPATH=$(AGENT) $(PY) tools/demo.py

demo-clean:
	-podman rm -f -t 0 vrrp-demo-s1 vrrp-demo-s2 vrrp-demo-client >/dev/null 2>&1
	-podman network rm -f vrrp-demo-net >/dev/null 2>&1
	rm -rf /var/tmp/vrrp-demo
	@echo "demo lab removed"
