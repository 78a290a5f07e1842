"""What one account's terminal calls a requested symbol (a TradingView ticker or a copy
master's broker symbol).

Brokers name one instrument many ways (EURUSD.m, EURUSDm, GOLD for XAUUSD, USTEC for
NAS100), so every order goes through symbol_resolve(): the trader's custom mapping, a
mapping learned earlier, then automatic rules from the safest to the loosest.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

from .models import SymbolMapping, TradingAccount

# SymbolMapping.requested and .broker_symbol are CharField(max_length=40).
MAX_SYMBOL_LENGTH = 40
SHOWN_CANDIDATES = 5
# WRatio on names stripped of case and separators: "EURUSD"/"EURUSDM" scores 92, while
# neighbours like XAUUSD/XAGUSD or GBPUSD/GBPAUD score 83 and must never match.
FUZZY_THRESHOLD = 90
# A fuzzy winner must lead the runner-up by this much, or the choice is a coin toss.
FUZZY_MARGIN = 5
SUGGESTION_CUTOFF = 60

# One instrument per row. OANDA-style names (NAS100USD, DE30EUR…) are included because
# TradingView alerts often come from charts of OANDA symbols.
ALIAS_GROUPS: tuple[tuple[str, ...], ...] = (
    ("XAUUSD", "GOLD"),
    ("XAGUSD", "SILVER"),
    ("US30", "DJ30", "WS30", "DJI", "US30USD", "DOW"),
    ("NAS100", "USTEC", "NQ100", "US100", "NDX", "NAS100USD"),
    ("SPX500", "US500", "SP500", "SPX", "SPX500USD"),
    ("GER40", "DE40", "DAX40", "GER30", "DE30", "DE30EUR", "DE40EUR"),
    ("UK100", "FTSE100", "UK100GBP"),
    ("JP225", "JPN225", "NIKKEI", "JP225USD"),
    ("UKOIL", "BRENT", "XBRUSD", "BCOUSD", "UKOUSD"),
    ("USOIL", "WTI", "XTIUSD", "CL", "WTICOUSD", "USOUSD"),
    ("BTCUSD", "BITCOIN", "XBTUSD"),
    ("ETHUSD", "ETHEREUM"),
)
_ALIASES: dict[str, tuple[str, ...]] = {name: group for group in ALIAS_GROUPS for name in group}

# Broker tags around a symbol, on upper-cased names. A separator then a short tag:
# ".M", ".PRO", "#", "_I", ".CASH", "-ECN"; or a short tag then a separator: ".", "#", "M.".
_TAGGED_SUFFIX = re.compile(r"[^A-Z0-9]{1,2}[A-Z0-9]{0,6}")
_TAGGED_PREFIX = re.compile(r"[A-Z0-9]{0,3}[^A-Z0-9]{1,2}")
# Bare letters (Exness "EURUSDm", "EURUSDc", "mEURUSD") are only taken when short and on
# names of 4+ characters: three letters would turn GOLD into GOLDEUR, another instrument.
_BARE_SUFFIX = re.compile(r"[A-Z]{1,2}")
_BARE_PREFIX = re.compile(r"[A-Z]")
_BARE_MIN_NAME = 4
# A requested name that itself carries a tagged suffix or prefix (a copy master's
# "EURUSD.m", "#US30"): its core is tried too. "/" and spaces are not tags ("EUR/USD").
_REQUESTED_CORE = re.compile(r"(?:[^A-Z0-9/ ]{1,2})?([A-Z0-9]{3,}?)(?:[^A-Z0-9/ ]{1,2}[A-Z0-9]{0,6})?")
_PLAIN = re.compile(r"[A-Z0-9]+")
_SEPARATORS = re.compile(r"[^A-Z0-9]")


class SymbolError(ValueError):
    """A requested symbol has no single symbol on an account; str() is a sentence for the trader."""

    def __init__(self, requested: str, candidates: Sequence[str] = ()) -> None:
        self.requested = requested
        self.candidates = list(candidates)
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.requested} cannot be traded on this account"

    # From the attributes, not args: a pickled error (a task result) reads the same after loading.
    def __str__(self) -> str:
        return self.describe()

    def _shown_candidates(self) -> str:
        shown = ", ".join(self.candidates[:SHOWN_CANDIDATES])
        if (more := len(self.candidates) - SHOWN_CANDIDATES) > 0:
            shown += f" and {more} more"
        return shown


class SymbolInvalid(SymbolError):
    """The requested text cannot be a symbol at all (empty, too long, control characters)."""

    def __init__(self, requested: str, reason: str = "") -> None:
        self.reason = reason
        super().__init__(requested)

    def describe(self) -> str:
        return self.reason


class SymbolNotFound(SymbolError):
    def describe(self) -> str:
        if not self.candidates:
            return (
                f"{self.requested} is not offered on this account and no similar symbol was found; add a custom mapping"
            )
        return (
            f"{self.requested} is not offered on this account; similar symbols: {self._shown_candidates()}; "
            "add a custom mapping"
        )


class SymbolMappingBroken(SymbolNotFound):
    """The trader's custom mapping names a symbol the terminal does not list."""

    def __init__(self, requested: str, candidates: Sequence[str] = (), broker_symbol: str = "") -> None:
        self.broker_symbol = broker_symbol
        super().__init__(requested, candidates)

    def describe(self) -> str:
        sentence = (
            f"The custom mapping sends {self.requested} to {self.broker_symbol}, which this account does not offer; "
            "fix or delete the mapping"
        )
        if self.candidates:
            sentence += f" (similar symbols: {self._shown_candidates()})"
        return sentence


class SymbolAmbiguous(SymbolError):
    def describe(self) -> str:
        return (
            f"{self.requested} matches several symbols on this account: {self._shown_candidates()}; "
            "add a custom mapping"
        )


def _excerpt(value: str) -> str:
    # Invalid input is echoed only cut short and with control characters as "?", so an
    # error message never carries 10 kB or a forged log line.
    cut = "".join(char if char.isprintable() else "?" for char in value[:20])
    return f'"{cut}…"' if len(value) > 20 else f'"{cut}"'


def _clean(value: object, *, what: str, upper: bool) -> str:
    if not isinstance(value, str):
        raise SymbolInvalid("", f"The {what} must be text, not {type(value).__name__}")
    # Upper-cased before the length check: "ß".upper() is "SS", and the column holds 40.
    value = value.strip().upper() if upper else value.strip()
    if not value:
        raise SymbolInvalid("", f"The {what} is empty")
    if len(value) > MAX_SYMBOL_LENGTH:
        raise SymbolInvalid(
            _excerpt(value),
            f"The {what} {_excerpt(value)} is {len(value)} characters long; it can have at most {MAX_SYMBOL_LENGTH}",
        )
    # Category C: control, format (zero-width, bidi overrides), surrogates, unassigned.
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise SymbolInvalid(_excerpt(value), f"The {what} {_excerpt(value)} contains control characters")
    return value


def symbol_normalize(requested: object) -> str:
    """The requested symbol stripped and upper-cased; raises SymbolInvalid for text that cannot be one."""
    return _clean(requested, what="symbol", upper=True)


def symbol_clean(value: object) -> str:
    """The symbol stripped, with its case kept (a master's "EURUSDm" stays so); refused
    (SymbolInvalid) as symbol_normalize() refuses it."""
    symbol_normalize(value)
    return value.strip()


def _plain(name: str) -> str:
    return _SEPARATORS.sub("", name)


def _affixes_ok(prefix: str, suffix: str, name: str) -> bool:
    bare_ok = len(name) >= _BARE_MIN_NAME
    prefix_ok = not prefix or bool(_TAGGED_PREFIX.fullmatch(prefix) or (bare_ok and _BARE_PREFIX.fullmatch(prefix)))
    suffix_ok = not suffix or bool(_TAGGED_SUFFIX.fullmatch(suffix) or (bare_ok and _BARE_SUFFIX.fullmatch(suffix)))
    return prefix_ok and suffix_ok


def _variants(name: str, available: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Broker symbols that are `name` wearing a broker tag, with the (prefix, suffix) worn."""
    found: dict[str, tuple[str, str]] = {}
    for symbol, upper in available.items():
        start = upper.find(name)
        while start != -1 and upper != name:
            prefix, suffix = upper[:start], upper[start + len(name) :]
            if _affixes_ok(prefix, suffix, name):
                found[symbol] = (prefix, suffix)
                break
            start = upper.find(name, start + 1)
    return found


def _tag_support(prefix: str, suffix: str, uppers: Iterable[str]) -> int:
    """How many of the broker's symbols wear this tag around a plain name (EURUSD.M, GBPUSD.M…)."""
    return sum(
        1
        for upper in uppers
        if len(upper) > len(prefix) + len(suffix)
        and upper.startswith(prefix)
        and upper.endswith(suffix)
        and _PLAIN.fullmatch(upper[len(prefix) : len(upper) - len(suffix)])
    )


def _pick_variant(requested: str, variants: dict[str, tuple[str, str]], available: dict[str, str]) -> str | None:
    if not variants:
        return None
    if len(variants) == 1:
        return next(iter(variants))
    # Several tagged versions (EURUSD.m and EURUSD.pro): the broker's usual tag says which
    # account type this is; with no clear favourite, guessing could trade the wrong contract.
    ranked = sorted(
        ((_tag_support(prefix, suffix, available.values()), symbol) for symbol, (prefix, suffix) in variants.items()),
        reverse=True,
    )
    if ranked[0][0] > ranked[1][0]:
        return ranked[0][1]
    raise SymbolAmbiguous(requested, sorted(variants))


def _exact(name: str, available: dict[str, str]) -> list[str]:
    return [symbol for symbol, upper in available.items() if upper == name]


def _pick_exact(requested: str, names: Sequence[str], available: dict[str, str]) -> str | None:
    matches = sorted({symbol for name in names for symbol in _exact(name, available)})
    if len(matches) > 1 and requested in matches:
        return requested  # "EURUSD" and "eurusd" both listed: the same spelling wins
    if len(matches) > 1:
        raise SymbolAmbiguous(requested, matches)
    return matches[0] if matches else None


def _requested_names(requested: str) -> list[str]:
    names = [requested]
    core = _REQUESTED_CORE.fullmatch(requested)
    if core and core.group(1) != requested:
        names.append(core.group(1))
    return names


def _closest(name: str, available: dict[str, str]) -> list[tuple[str, float]]:
    """Symbols scoring at least SUGGESTION_CUTOFF against `name`, best first."""
    choices = {symbol: _plain(upper) for symbol, upper in available.items()}
    scored = process.extract(
        _plain(name.upper()), choices, scorer=fuzz.WRatio, limit=None, score_cutoff=SUGGESTION_CUTOFF
    )
    return sorted(((symbol, score) for _, score, symbol in scored), key=lambda pair: (-pair[1], pair[0]))


def _similar_length(a: str, b: str) -> bool:
    a, b = _plain(a), _plain(b)
    return 3 * min(len(a), len(b)) > 2 * max(len(a), len(b))


def _find(symbol: str, available: dict[str, str]) -> str | None:
    if symbol in available:
        return symbol
    matches = _exact(symbol.upper(), available)
    return matches[0] if len(matches) == 1 else None


def _automatic(requested: str, available: dict[str, str]) -> str:
    names = _requested_names(requested)
    for name in names:
        if found := _pick_exact(requested, [name], available):
            return found
        if found := _pick_variant(requested, _variants(name, available), available):
            return found
    aliases = [alias for name in names for alias in _ALIASES.get(name, ()) if alias not in names]
    if found := _pick_exact(requested, aliases, available):
        return found
    variants = {symbol: tags for alias in aliases for symbol, tags in _variants(alias, available).items()}
    if found := _pick_variant(requested, variants, available):
        return found
    closest = _closest(requested, available)
    # WRatio scores a name inside one 1.5 times longer at 90 ("EUR" in "EURUSD", "CL" in
    # "CLX"); such partial hits are suggestions only, or any prefix would pick an instrument.
    eligible = [(symbol, score) for symbol, score in closest if _similar_length(requested, available[symbol])]
    if eligible and (best := eligible[0][1]) >= FUZZY_THRESHOLD:
        runner_up = eligible[1][1] if len(eligible) > 1 else 0.0
        if runner_up < FUZZY_THRESHOLD and best - runner_up >= FUZZY_MARGIN:
            return eligible[0][0]
        tied = [symbol for symbol, score in eligible if score >= FUZZY_THRESHOLD or best - score < FUZZY_MARGIN]
        raise SymbolAmbiguous(requested, tied)
    raise SymbolNotFound(requested, [symbol for symbol, _ in closest])


def _remember(*, account: TradingAccount, requested: str, symbol: str, mapping: SymbolMapping | None) -> None:
    """Learned rows mirror the latest automatic answer; a custom row is never touched.
    `mapping` is the row already read, so the common case (the plain name, nothing stored)
    writes nothing: this runs for every target account of every signal."""
    learned = mapping is not None and mapping.source == SymbolMapping.Source.LEARNED
    if symbol.upper() == requested:
        if learned:
            mapping.delete()  # the plain name works now: nothing worth remembering
        return
    if mapping is None:
        SymbolMapping.objects.get_or_create(
            account=account,
            requested=requested,
            defaults={"owner": account.owner, "broker_symbol": symbol, "source": SymbolMapping.Source.LEARNED},
        )
    elif learned and mapping.broker_symbol != symbol:
        SymbolMapping.objects.filter(pk=mapping.pk).update(broker_symbol=symbol)


MAPPING_NOT_READ = object()  # symbol_resolve's default: it reads the account's mapping of the name itself


# The webhook's read of its target accounts, written out: the ORM spends ten times as long
# compiling the equivalent queryset (three subqueries, an OR of two IN lists) as the database
# spends running it, on the path whose acknowledgement time is promised. Tenancy is the
# `owner_id = %s` below; tests/webhooks check that another trader's account reads as unknown.
_INTAKE = "SELECT a.id, a.owner_id, a.login, a.kind, a.host_id, a.status, a.max_lot, a.symbols"
_INTAKE_PLAIN = _INTAKE + " FROM terminals_tradingaccount a"
_INTAKE_MAPPED = (
    _INTAKE + ", m.id AS mapping_pk, m.broker_symbol AS mapping_symbol, m.source AS mapping_source"
    " FROM terminals_tradingaccount a"
    " LEFT JOIN terminals_symbolmapping m ON m.account_id = a.id AND m.requested = %s"
)


def intake_accounts(*, owner_id: int, requested: str, references: Sequence[str] = ()) -> list[TradingAccount]:
    """The owner's live, not stopped accounts in pk order (only those whose login or id is in
    `references`, when given), with the fields intake reads and, for a usable `requested`
    symbol, each one's stored mapping for it (mapping_of()): no query per account."""
    params: list = []
    try:
        params.append(symbol_normalize(requested))
        sql = _INTAKE_MAPPED
    except SymbolError:
        # No symbol (CLOSE_ALL) or an unusable one, which symbol_resolve explains.
        sql = _INTAKE_PLAIN
    sql += " WHERE a.owner_id = %s AND a.deleted_at IS NULL AND a.status <> %s"
    params += [owner_id, TradingAccount.Status.STOPPED.value]
    if references:
        logins = list(dict.fromkeys(references))
        wanted = "a.login IN (" + ", ".join(["%s"] * len(logins)) + ")"
        params += logins
        if ids := [int(r) for r in logins if r.isascii() and r.isdigit() and len(r) <= 18]:
            wanted += " OR a.id IN (" + ", ".join(["%s"] * len(ids)) + ")"
            params += ids
        sql += f" AND ({wanted})"
    return list(TradingAccount.objects.raw(sql + " ORDER BY a.id", params))


def mapping_of(account: TradingAccount) -> SymbolMapping | object | None:
    """The mapping intake_accounts() read with the account (None: it has none), or MAPPING_NOT_READ."""
    if not hasattr(account, "mapping_pk"):
        return MAPPING_NOT_READ
    if account.mapping_pk is None:
        return None
    return SymbolMapping(
        pk=account.mapping_pk,
        account=account,
        owner_id=account.owner_id,
        broker_symbol=account.mapping_symbol,
        source=account.mapping_source,
    )


def symbol_resolve(
    *,
    account: TradingAccount,
    requested: str,
    available: Sequence[str],
    mapping: SymbolMapping | object | None = MAPPING_NOT_READ,
) -> str:
    """The broker's spelling of `requested` among `available` (the terminal's symbol list).

    Rules in order: custom mapping, learned mapping still listed, exact name (any case),
    the name with a broker tag (EURUSD.m, EURUSDm, #US30), aliases (XAUUSD/GOLD…) and their
    tagged forms, then a fuzzy match that must be clear. An automatic answer other than the
    requested name itself is stored as a learned mapping for the next order.

    Raises SymbolInvalid for unusable input, SymbolMappingBroken when the custom mapping
    names an unlisted symbol, SymbolAmbiguous when several fit equally, SymbolNotFound
    otherwise; all are SymbolError (ValueError) with a sentence for the trader.
    """
    requested = symbol_normalize(requested)
    listed = {symbol: symbol.upper() for symbol in available if isinstance(symbol, str) and symbol}
    if mapping is MAPPING_NOT_READ:
        mapping = SymbolMapping.objects.filter(account=account, requested=requested).first()
    elif mapping is not None:
        mapping.requested = requested
    if mapping is not None:
        found = _find(mapping.broker_symbol, listed)
        if mapping.source == SymbolMapping.Source.CUSTOM:
            if found is None:
                # The trader chose this name: silently trading something else would overrule them.
                closest = [symbol for symbol, _ in _closest(mapping.broker_symbol, listed)]
                raise SymbolMappingBroken(requested, closest, broker_symbol=mapping.broker_symbol)
            return found
        if found is not None:
            return found
    found = _automatic(requested, listed)
    _remember(account=account, requested=requested, symbol=found, mapping=mapping)
    return found


def symbol_mappings_read(wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], SymbolMapping]:
    """The stored mappings of many (account id, requested name) at once, keyed by account id
    and normalised name, for symbol_resolve's `mapping` (which reads one per call). A name that
    does not normalise is left out: symbol_resolve explains what is wrong with it."""
    names: dict[int, set[str]] = {}
    for account_id, requested in wanted:
        try:
            names.setdefault(account_id, set()).add(symbol_normalize(requested))
        except SymbolError:
            continue
    rows = SymbolMapping.objects.filter(account_id__in=names, requested__in=set().union(*names.values()))
    return {(row.account_id, row.requested): row for row in rows if row.requested in names[row.account_id]}


def symbol_mapping_set(*, account: TradingAccount, requested: str, broker_symbol: str) -> SymbolMapping:
    """Map `requested` to `broker_symbol` on the account (a custom mapping), replacing any earlier one.

    `requested` is upper-cased; `broker_symbol` keeps its case, as brokers spell "EURUSDm".
    Raises SymbolInvalid for an empty, over-long or control-character value.
    """
    requested = symbol_normalize(requested)
    broker_symbol = _clean(broker_symbol, what="broker symbol", upper=False)
    mapping, _ = SymbolMapping.objects.update_or_create(
        account=account,
        requested=requested,
        defaults={"owner": account.owner, "broker_symbol": broker_symbol, "source": SymbolMapping.Source.CUSTOM},
    )
    return mapping


def symbol_mapping_delete(*, account: TradingAccount, requested: str) -> bool:
    """Forget the account's mapping (custom or learned) of `requested`; False if there was none."""
    deleted, _ = SymbolMapping.objects.filter(account=account, requested=symbol_normalize(requested)).delete()
    return bool(deleted)
