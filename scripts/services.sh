# Sourced: the services and their ports ("name:port" …), read from the one list in shared/services.py
# (standard library only: any python3 reads it, with or without the virtualenv).
SERVICES=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && python3 -m shared.services --shell)
