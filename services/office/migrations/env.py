from services.office.models import Base
from services.office.work_cycle import models as _work_cycle_models  # noqa: F401  # its tables on Base
from shared.migrations import run_env
from shared.platform_models import PlatformBase
from shared.projection import BureauBase

run_env([Base.metadata, PlatformBase.metadata, BureauBase.metadata])
