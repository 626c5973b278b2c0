from services.office.models import Base
from shared.migrations import run_env
from shared.platform_models import PlatformBase
from shared.projection import BureauBase

run_env([Base.metadata, PlatformBase.metadata, BureauBase.metadata])
