"""Copy pairs: their accounts (one trader's, never in a circle), their rules, and their API keys."""

import hmac
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from audit.services import audit_rotation
from mt5saas.crypto import decrypt, encrypt, secret_digest, secret_digests
from terminals.errors import SymbolError
from terminals.models import TradingAccount
from terminals.selectors import symbol_normalize

from .errors import CopyConflict, CopyForbidden, CopyKeyUnknown, CopyRefused
from .models import CopyExecution, CopyLink, CopyPair

KEY_PREFIX = "cpk_"
MAX_KEY_LENGTH = 128
PAIR_FIELDS = ("volume_mode", "multiplier", "fixed_volume", "copy_sl_tp", "auto_symbol_map", "symbol_map", "active")


def account_label(account: TradingAccount) -> str:
    """How messages name an account: its nickname, else its login."""
    return account.nickname or account.login


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _key_fields(key: str) -> dict:
    return {"key_digest": secret_digest(key), "key_ciphertext": encrypt(key), "key_hint": key[:8]}


def _pair_cycle(
    *, owner, master: TradingAccount, slave: TradingAccount, exclude: int | None = None
) -> list[int] | None:
    """The account ids of the cycle that master → slave would close, master first and last, or None.

    Every pair counts, active or not: switching a pair on must never close a loop."""
    edges: dict[int, list[int]] = {}
    for pair in CopyPair.objects.owned_by(owner).exclude(pk=exclude).values_list("master_id", "slave_id"):
        edges.setdefault(pair[0], []).append(pair[1])
    # Depth-first from the slave: reaching the master means the copies would go round forever.
    trail: dict[int, int | None] = {slave.pk: None}
    stack = [slave.pk]
    while stack:
        node = stack.pop()
        if node == master.pk:
            path = [node]
            while trail[path[-1]] is not None:
                path.append(trail[path[-1]])
            return [master.pk, *reversed(path)]
        for nxt in edges.get(node, []):
            if nxt not in trail:
                trail[nxt] = node
                stack.append(nxt)
    return None


def _pair_accounts_check(*, owner, master: TradingAccount, slave: TradingAccount, exclude: int | None = None) -> None:
    # One trader's pair changes one at a time: two pairs created at once (A → B, B → A) would
    # each find no cycle without the other. The owner's row is the lock (SQLite serialises writers
    # anyway); NO KEY, so orders and links inserted for the trader meanwhile (they reference the
    # row) are not held up: with a full lock a pair move and its master's intake deadlocked.
    list(get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).values_list("pk"))
    mine = TradingAccount.objects.owned_by(owner).alive()
    for name, account in (("master", master), ("slave", slave)):
        if not mine.filter(pk=account.pk).exists():
            raise CopyRefused("Not one of your accounts.", field=name)
    if master.pk == slave.pk:
        raise CopyRefused("The master and the slave must be two different accounts.", field="slave")
    if CopyPair.objects.filter(master=master, slave=slave).exclude(pk=exclude).exists():
        raise CopyConflict("This master is already copied to this slave.", field="slave")
    cycle = _pair_cycle(owner=owner, master=master, slave=slave, exclude=exclude)
    if cycle is not None:
        accounts = TradingAccount.objects.in_bulk(cycle)
        names = " → ".join(account_label(accounts[pk]) for pk in cycle)
        raise CopyRefused(f"This pair would copy trades in a circle: {names}.", field="slave")


def pair_rule_clean(fields: dict) -> None:
    """Checks a pair's rule fields (CopyRefused); the symbol map is normalised in place."""
    if "multiplier" in fields and not fields["multiplier"] > 0:
        raise CopyRefused("The multiplier must be more than 0.", field="multiplier")
    if "fixed_volume" in fields and not fields["fixed_volume"] > 0:
        raise CopyRefused("The fixed volume must be more than 0 lots.", field="fixed_volume")
    symbol_map = fields.get("symbol_map")
    if symbol_map is not None:
        if not isinstance(symbol_map, dict):
            raise CopyRefused("The symbol map must be an object of master symbol → slave symbol.", field="symbol_map")
        cleaned = {}
        for requested, broker in symbol_map.items():
            try:
                symbol_normalize(broker)  # refuses what cannot be a symbol; the broker's spelling is kept
                cleaned[symbol_normalize(requested)] = str(broker).strip()
            except SymbolError as error:
                raise CopyRefused(str(error), field="symbol_map") from None
        fields["symbol_map"] = cleaned


@transaction.atomic
def pair_create(
    *, owner, master: TradingAccount, slave: TradingAccount, key: str | None = None, **fields
) -> tuple[CopyPair, str]:
    """A new pair and its API key (returned once; pair_key_reveal shows it again); `key`
    keeps a key the master EA already has (legacy import), else a new one is made.

    Raises CopyRefused: an account that is not the owner's, master = slave, or a pair that
    would close a cycle (named, e.g. "A → B → C → A"); CopyConflict: an existing pair."""
    fields = {name: value for name, value in fields.items() if name in PAIR_FIELDS}
    pair_rule_clean(fields)
    _pair_accounts_check(owner=owner, master=master, slave=slave)
    key = key or _new_key()
    pair = CopyPair.objects.create(owner=owner, master=master, slave=slave, **fields, **_key_fields(key))
    return pair, key


@transaction.atomic
def pair_update(*, pair: CopyPair, **fields) -> CopyPair:
    """Change a pair's accounts or rules; the same checks as pair_create, and CopyConflict while
    copies of the pair are open or on their way (they name the old accounts)."""
    master, slave = fields.pop("master", pair.master), fields.pop("slave", pair.slave)
    fields = {name: value for name, value in fields.items() if name in PAIR_FIELDS}
    pair_rule_clean(fields)
    if (master.pk, slave.pk) != (pair.master_id, pair.slave_id):
        _pair_accounts_check(owner=pair.owner, master=master, slave=slave, exclude=pair.pk)
        _pair_links_drop(pair=pair, field="slave" if slave.pk != pair.slave_id else "master")
    pair.master, pair.slave = master, slave
    for name, value in fields.items():
        setattr(pair, name, value)
    pair.save()
    return pair


def _pair_links_drop(*, pair: CopyPair, field: str) -> None:
    """Delete the links of a pair about to move to other accounts, refusing while any is open."""
    # A link names a position on the pair's slave, opened by the pair's master's order:
    # moved to other accounts, its close would go to the new slave under the old ticket.
    # The master's row, as its intake locks it: no event of its fans out meanwhile.
    TradingAccount.objects.select_for_update(no_key=True).filter(pk=pair.master_id).values_list("pk").first()
    links = CopyLink.objects.select_for_update().filter(pair=pair)
    if still_open := links.filter(closed_at__isnull=True).count():
        raise CopyConflict(
            f"{still_open} copied position(s) of this pair are still open on {account_label(pair.slave)}: close them "
            "first, or create a new pair for the other account.",
            field=field,
        )
    if CopyExecution.objects.filter(pair=pair, status=CopyExecution.Status.PENDING).exists():
        # A close is on its way (its link reads closed already): its outcome needs the link.
        raise CopyConflict("This pair's copies are still being carried out; try again in a moment.", field=field)
    links.delete()  # all closed: they named the old accounts' orders and positions


def pair_toggle(*, pair: CopyPair) -> CopyPair:
    pair.active = not pair.active
    pair.save(update_fields=["active", "updated_at"])
    return pair


def pair_delete(*, pair: CopyPair) -> None:
    """Executions keep their history (their pair becomes empty); links go with the pair."""
    pair.delete()


def pair_key_rotate(*, pair: CopyPair) -> str:
    """A new key for the pair; the old one fails from the next request on."""
    key = _new_key()
    CopyPair.objects.filter(pk=pair.pk).update(**_key_fields(key))
    audit_rotation(instance=pair)
    return key


def pair_key_reveal(*, pair: CopyPair) -> str:
    return decrypt(pair.key_ciphertext)


def pair_by_key(*, key: object) -> CopyPair | None:
    """The pair whose key this is, or None (unknown, rotated, or not a key at all)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        return None
    digests = secret_digests(key)
    pair = CopyPair.objects.select_related("master", "owner").filter(key_digest__in=digests).first()
    if pair is None or not any(hmac.compare_digest(pair.key_digest, d) for d in digests):
        return None
    if pair.key_digest != digests[0]:
        CopyPair.objects.filter(pk=pair.pk).update(key_digest=digests[0])  # matched under a SECRET_KEY fallback
    return pair


def master_by_key(*, key: object, account: object) -> TradingAccount:
    """The master a trade event with this key speaks for, `account` naming it (login or id).

    Raises CopyKeyUnknown, or CopyForbidden when the pair's owner is disabled or `account` is
    not the pair's (live) master."""
    pair = pair_by_key(key=key)
    if pair is None:
        raise CopyKeyUnknown("Unknown or rotated API key.", field="api_key")
    if not pair.owner.is_active:
        raise CopyForbidden("This account is disabled.")
    master = pair.master
    account = str(account).strip()
    if master.deleted_at is not None or account not in (master.login, str(master.pk)):
        raise CopyForbidden(f"Account {account[:20] or '(none)'} is not this pair's master.", field="account")
    return master
