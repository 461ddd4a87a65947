"""Registry tables (sites → buildings → rooms, residents, contacts, staff, devices, pending) and schemas."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base
from hub.devices.keys import normalise_key

# Enum-valued columns are plain strings: adding a kind later needs no database type migration.


class SiteKind(StrEnum):
    """What kind of place a site is (coverage reports count homes apart from institutions)."""

    HOME = "home"
    COMMUNITY = "community"
    INSTITUTION = "institution"


class LivingSituation(StrEnum):
    """How a resident lives; solitary and empty-nest elderly are the coverage targets."""

    ALONE = "alone"
    EMPTY_NEST = "empty_nest"
    INSTITUTION = "institution"
    WITH_FAMILY = "with_family"


class Language(StrEnum):
    """Language of notifications sent to a contact."""

    ZH_CN = "zh-CN"
    EN = "en"


class DeviceKind(StrEnum):
    """What a registered device is; drives supervision defaults and alert routing."""

    SOS_BUTTON = "sos_button"
    SMOKE_DETECTOR = "smoke_detector"
    GAS_DETECTOR = "gas_detector"
    CO_DETECTOR = "co_detector"
    HEAT_DETECTOR = "heat_detector"
    WRISTBAND = "wristband"
    WATCH = "watch"
    FALL_RADAR = "fall_radar"
    MOTION_SENSOR = "motion_sensor"
    DOOR_SENSOR = "door_sensor"
    RECEIVER = "receiver"
    OTHER = "other"


class StaffRole(StrEnum):
    """What a staff member does."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    DISPATCHER = "dispatcher"
    CAREGIVER = "caregiver"
    RESPONDER = "responder"
    SAFETY_OFFICER = "safety_officer"
    GRID_WORKER = "grid_worker"
    ADMIN = "admin"


PENDING_PAYLOAD_BYTES = 4096


# ---------------------------------------------------------------------------------------------- tables


class Site(Base):
    """A place under watch: a home, a community day-care centre or an institution."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("name", name="uq_sites_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=SiteKind.HOME.value)
    township: Mapped[str] = mapped_column(String(100), default="")
    county: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(400), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)

    buildings: Mapped[list[Building]] = relationship(back_populates="site", cascade="all, delete-orphan")


class Building(Base):
    """A building of a site (a home has one, usually called "main")."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_buildings_site_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    site: Mapped[Site] = relationship(back_populates="buildings")
    rooms: Mapped[list[Room]] = relationship(back_populates="building", cascade="all, delete-orphan")


class Room(Base):
    """A room of a building; where a resident lives and where fixed devices hang."""

    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("building_id", "name", name="uq_rooms_building_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    building: Mapped[Building] = relationship(back_populates="rooms")


class Resident(Base):
    """An old person under watch; age is computed from the birth date (or year) on demand."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("external_id", name="uq_residents_external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    living_situation: Mapped[str] = mapped_column(String(20), default=LivingSituation.ALONE.value)
    medical_notes: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), nullable=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True)

    contacts: Mapped[list[EmergencyContact]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", order_by="EmergencyContact.order"
    )

    def age(self, today: dt.date | None = None) -> int | None:
        """Return the age in whole years on `today`; from the birth year alone it may be one too high."""
        today = today or dt.date.today()
        if self.birth_date is not None:
            before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
            return today.year - self.birth_date.year - int(before_birthday)
        if self.birth_year is not None:
            return today.year - self.birth_year
        return None


class EmergencyContact(Base):
    """Someone to call or notify for a resident, in `order` (1 first)."""

    __tablename__ = "emergency_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    apprise_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(10), default=Language.ZH_CN.value)
    # "order" is an SQL keyword: keep it out of the column name.
    order: Mapped[int] = mapped_column("sort_order", Integer, default=1)
    # "22:00-07:00" in the hub's time zone: checks and device care wait until it ends; P1 never does.
    quiet_hours: Mapped[str] = mapped_column(String(20), default="")

    resident: Mapped[Resident] = relationship(back_populates="contacts")


class Staff(Base):
    """An operator, caregiver, responder or safety officer; `site_id` empty means every site."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    phone: Mapped[str] = mapped_column(String(40), default="")
    apprise_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(10), default=Language.ZH_CN.value)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)


class Device(Base):
    """A registered device, bound to a site and optionally a room and/or a resident."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(30), index=True)
    vendor: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    profile: Mapped[str] = mapped_column(String(60), default="")
    supervision_s: Mapped[float] = mapped_column(Float)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True, index=True
    )
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="SET NULL"), nullable=True
    )

    identifiers: Mapped[list[DeviceIdentifier]] = relationship(
        back_populates="device", cascade="all, delete-orphan", order_by="DeviceIdentifier.key"
    )
    site: Mapped[Site | None] = relationship()
    room: Mapped[Room | None] = relationship()
    resident: Mapped[Resident | None] = relationship()

    @property
    def keys(self) -> list[str]:
        """Return every identifier key of this device."""
        return [identifier.key for identifier in self.identifiers]


class DeviceIdentifier(Base):
    """One key a device is known by on the wire; a key names at most one device."""

    __tablename__ = "device_identifiers"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)

    device: Mapped[Device] = relationship(back_populates="identifiers")


class PendingDevice(Base):
    """A device that sent data but is not registered: kept with its first payload until bound."""

    __tablename__ = "pending_devices"
    __table_args__ = (UniqueConstraint("device_key", name="uq_pending_devices_device_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(60), default="")
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    message_count: Mapped[int] = mapped_column(Integer, default=1)
    first_topic: Mapped[str] = mapped_column(String(400), default="")
    first_payload: Mapped[str] = mapped_column(Text, default="")
    vendor: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(30), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    # Other keys the network announced for the same device (a Zigbee IEEE address and its friendly name).
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Payload fields its profile does not map, with how many payloads carried each (docs/model.md).
    unmapped_fields: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


# --------------------------------------------------------------------------------------------- schemas


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SiteCreate(BaseModel):
    """A site to create."""

    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind = SiteKind.HOME
    township: str = ""
    county: str = ""
    address: str = ""
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class SitePublic(_Public):
    """A site as the API shows it."""

    id: int
    name: str
    kind: SiteKind
    township: str
    county: str
    address: str
    lat: float | None
    lon: float | None


class RoomCreate(BaseModel):
    """A room to create; its building is created when missing."""

    site_id: int
    building: str = Field(default="main", min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)


class RoomPublic(BaseModel):
    """A room with its building and site."""

    id: int
    name: str
    building_id: int
    building: str
    site_id: int


class ContactCreate(BaseModel):
    """An emergency contact of a resident."""

    name: str = Field(min_length=1, max_length=200)
    relation: str = ""
    phone: str = ""
    apprise_urls: list[str] = Field(default_factory=list)
    language: Language = Language.ZH_CN
    order: int = Field(default=1, ge=1)
    quiet_hours: str = Field(default="", pattern=r"^(\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*)?$")


class ContactPublic(ContactCreate):
    """An emergency contact as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int


class ResidentCreate(BaseModel):
    """A resident to create, with contacts."""

    name: str = Field(min_length=1, max_length=200)
    external_id: str | None = Field(default=None, max_length=100)
    birth_date: dt.date | None = None
    birth_year: int | None = Field(default=None, ge=1890, le=2100)
    living_situation: LivingSituation = LivingSituation.ALONE
    medical_notes: str = ""
    phone: str = ""
    site_id: int | None = None
    room_id: int | None = None
    contacts: list[ContactCreate] = Field(default_factory=list)


class ResidentPublic(_Public):
    """A resident as the API shows it (personal data: a later issue adds role-based masking)."""

    id: int
    external_id: str | None
    name: str
    birth_date: dt.date | None
    birth_year: int | None
    age: int | None
    living_situation: LivingSituation
    medical_notes: str
    phone: str
    site_id: int | None
    room_id: int | None
    contacts: list[ContactPublic]

    @classmethod
    def of(cls, resident: Resident, today: dt.date | None = None) -> ResidentPublic:
        """Build the public view of `resident`, computing the age."""
        return cls(
            id=resident.id, external_id=resident.external_id, name=resident.name,
            birth_date=resident.birth_date, birth_year=resident.birth_year, age=resident.age(today),
            living_situation=LivingSituation(resident.living_situation),
            medical_notes=resident.medical_notes, phone=resident.phone, site_id=resident.site_id,
            room_id=resident.room_id,
            contacts=[ContactPublic.model_validate(c) for c in resident.contacts],
        )


class StaffCreate(BaseModel):
    """A staff member to create."""

    name: str = Field(min_length=1, max_length=200)
    role: StaffRole
    phone: str = ""
    apprise_urls: list[str] = Field(default_factory=list)
    language: Language = Language.ZH_CN
    site_id: int | None = None
    active: bool = True


class StaffPublic(StaffCreate):
    """A staff member as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int


class DeviceCreate(BaseModel):
    """A device to register with at least one identifier key; `supervision_s` defaults by kind."""

    kind: DeviceKind
    keys: list[str] = Field(min_length=1)
    name: str = ""
    vendor: str = ""
    model: str = ""
    profile: str = ""
    supervision_s: float | None = Field(default=None, gt=0)
    site_id: int | None = None
    room_id: int | None = None
    resident_id: int | None = None

    @field_validator("keys")
    @classmethod
    def _canonical_keys(cls, keys: list[str]) -> list[str]:
        normal = [normalise_key(key) for key in keys]
        if len(set(normal)) != len(normal):
            raise ValueError("duplicate identifier key")
        return normal


class DevicePublic(_Public):
    """A device as the API shows it; `state` is live state the hub fills (empty when not known)."""

    id: int
    name: str
    kind: DeviceKind
    vendor: str
    model: str
    profile: str
    supervision_s: float
    site_id: int | None
    room_id: int | None
    resident_id: int | None
    keys: list[str]
    state: dict = Field(default_factory=dict)


class PendingPublic(_Public):
    """An unknown device waiting to be bound."""

    device_key: str
    source: str
    first_seen: float
    last_seen: float
    message_count: int
    first_topic: str
    first_payload: str
    vendor: str
    model: str
    kind: str
    name: str
    aliases: list[str]
    unmapped_fields: dict[str, int] = Field(default_factory=dict)


class BindIn(BaseModel):
    """How to register a pending device."""

    kind: DeviceKind
    name: str = ""
    site_id: int | None = None
    room_id: int | None = None
    resident_id: int | None = None
    supervision_s: float | None = Field(default=None, gt=0)
