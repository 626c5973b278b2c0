from services.registry.models import Base
from shared.migrations import run_env
from shared.platform_models import PlatformBase

run_env([Base.metadata, PlatformBase.metadata])
