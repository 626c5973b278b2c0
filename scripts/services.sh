# Sourced: the seven services and their ports.
SERVICES="registry:8001 medical:8002 education:8003 housing:8004 employment:8005 utilities:8006 legal:8007"
