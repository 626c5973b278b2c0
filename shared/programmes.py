"""The programmes each bureau runs, with the names a caseworker and the joint meeting read (Chinese).

The bureaus themselves, and their names, are in :mod:`shared.services`."""

from __future__ import annotations

PROGRAMME_NAMES: dict[str, str] = {
    "dibao": "城市居民最低生活保障金",
    "extension": "就业后延发低保",
    "medical_assistance": "医疗救助",
    "fee_waiver": "义务教育免杂费、书本费",
    "boarding_subsidy": "寄宿生生活补助",
    "disability_grant": "残疾人家庭子女助学金",
    "orphan_and_hardship_aid": "孤儿及困境儿童救助",
    "rent_subsidy": "廉租住房租金补贴",
    "low_rent_allocation": "廉租住房实物配租",
    "reemployment_certificate": "再就业优惠证",
    "job_agency_fee_waiver": "免收职业介绍费",
    "training_fee_waiver": "免收职业培训费",
    "public_welfare_post": "公益性岗位",
    "water_discount": "生活用水价格优惠",
    "heating_fee_reduction": "集中供热费减免",
    "heating_supplement": "非集中供热采暖补贴 (低保金加发20%)",
    "legal_aid": "免费法律援助",
}
PARTNER_NAMES = {
    "trade_union": "工会",
    "youth_league_hope_project": "共青团希望工程",
    "womens_federation": "妇联",
    "disabled_persons_federation": "残联",
}


def programme_name(programme: str) -> str:
    if programme.startswith("partner_aid:"):
        return f"社会助学 ({PARTNER_NAMES.get(programme.split(':', 1)[1], programme.split(':', 1)[1])})"
    return PROGRAMME_NAMES.get(programme, programme)
