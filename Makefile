# The two commands: `make run` (the product) and `make test` (every test).
# Both create what is missing first: the Python environments and the trained model.
.PHONY: run test test-fast lint setup model shell bench nlu-eval units clean export erase

APP_PY := .venv/app/bin/python
RASA := .venv/rasa/bin/rasa

setup:
	@bash scripts/bootstrap.sh --browser

model: setup
	@$(APP_PY) scripts/model.py train

run: setup
	@$(APP_PY) scripts/run.py

test: setup lint
	@$(APP_PY) scripts/model.py train
	@$(APP_PY) -m pytest $(PYTEST_ARGS)

# The tests that need neither the Rasa server, nor Chromium, nor a whole `make run` (markers given in
# tests/conftest.py): no lint, no training, a few minutes. `make test` stays the whole suite.
test-fast: setup
	@$(APP_PY) -m pytest -m "not rasa and not browser and not stack" $(PYTEST_ARGS)

# ruff (with import sorting) on everything, mypy --strict on core/, bot/, handoff/, db/: a finding fails `make test`.
lint: setup
	@$(APP_PY) -m ruff check .
	@$(APP_PY) -m mypy

# systemd units for every process make run starts (into UNITS_DIR, default var/units); docs/deploy.md.
units:
	@$(APP_PY) scripts/units.py

# Talk to the bot in the terminal (Rasa's own shell, with the action server).
shell: model
	@$(APP_PY) scripts/shell.py

bench: model
	@$(APP_PY) bench/run_all.py

# NLU intent F1 by 3-fold cross-validation (slow: not part of `make test`).
nlu-eval: setup
	@$(APP_PY) scripts/nlu_eval.py 3

# One customer's data (GDPR): `make export WHATSAPP=+49…` (or WEBCHAT=<session id>,
# CONVERSATION=<id>) prints it as JSON; `make erase …` erases it everywhere. Same environment as `make run`.
PRIVACY_WHO = $(if $(WHATSAPP),--whatsapp '$(WHATSAPP)')$(if $(WEBCHAT),--webchat '$(WEBCHAT)')$(if $(CONVERSATION),--conversation '$(CONVERSATION)')

export: setup
	@$(APP_PY) scripts/privacy.py export $(PRIVACY_WHO)

erase: setup
	@$(APP_PY) scripts/privacy.py erase $(PRIVACY_WHO)

clean:
	rm -rf models var results
