.PHONY: run test install
# Build and run the portal on SQLite with demo data (http://127.0.0.1:3000).
run:
	scripts/run.sh
# Everything: unit + API tests on SQLite and PostgreSQL, browser journeys in Chromium.
test:
	scripts/test.sh
install:
	scripts/install.sh
