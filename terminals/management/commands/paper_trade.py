from django.core.management.base import BaseCommand, CommandError

from terminals.drivers.base import DealReason, Filling, OrderRequest, OrderType, SymbolFillingFlag, TradeAction
from terminals.paper.cashier import PaperRefused, paper_account
from terminals.paper.hand import hand_trade
from terminals.paper.market import SERVERS
from terminals.retcodes import retcode_text

VIA = {"desktop": DealReason.CLIENT, "mobile": DealReason.MOBILE, "web": DealReason.WEB}


class Command(BaseCommand):
    help = (
        "Trade on a paper account by hand, as from the desktop terminal, the phone or the web terminal "
        "(not through the service): buy, sell, or close a position."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--server", required=True, help="the paper trade server, e.g. SimBroker-Demo")
        parser.add_argument("--login", required=True, type=int)
        parser.add_argument("action", choices=["buy", "sell", "close"])
        parser.add_argument("--symbol", help="buy and sell: the broker's symbol")
        parser.add_argument("--volume", type=float, help="lots; close: part of the position (default all of it)")
        parser.add_argument("--ticket", type=int, help="close: the position")
        parser.add_argument("--sl", type=float, default=0.0)
        parser.add_argument("--tp", type=float, default=0.0)
        parser.add_argument("--comment", default="")
        parser.add_argument("--via", choices=sorted(VIA), default="desktop")

    def handle(self, *args, server: str, login: int, action: str, **options) -> None:
        try:
            request = self._request(server, login, action, options)
            result = hand_trade(server=server, login=login, request=request, reason=VIA[options["via"]])
        except PaperRefused as refused:
            raise CommandError(str(refused)) from None
        if result.retcode != 10009:
            raise CommandError(f"{retcode_text(result.retcode)} {result.comment}".strip())
        self.stdout.write(f"{action} done: order {result.order}, deal {result.deal}, {result.volume} at {result.price}")

    def _request(self, server: str, login: int, action: str, options: dict) -> OrderRequest:
        spec = SERVERS.get(server, {})

        def filling(symbol: str) -> Filling:  # what the symbol allows, FOK first, as a terminal picks it
            return Filling.FOK if spec[symbol].info.filling_mode & SymbolFillingFlag.FOK else Filling.IOC

        if action == "close":
            account = paper_account(server, login)
            position = account.positions.filter(pk=options["ticket"] or 0).first()
            if position is None:
                raise CommandError(f"No open position {options['ticket']} on this account")
            side = OrderType.SELL if position.type == OrderType.BUY else OrderType.BUY
            return OrderRequest(
                action=TradeAction.DEAL, symbol=position.symbol, type=side,
                volume=options["volume"] or float(position.volume), position=position.pk,
                type_filling=filling(position.symbol), comment=options["comment"],
            )  # fmt: skip
        symbol, volume = options["symbol"], options["volume"]
        if symbol not in spec or not volume:
            raise CommandError(f"buy and sell need --volume and a --symbol of {server}: {', '.join(spec)}")
        return OrderRequest(
            action=TradeAction.DEAL, symbol=symbol, type=OrderType.BUY if action == "buy" else OrderType.SELL,
            volume=volume, sl=options["sl"], tp=options["tp"], type_filling=filling(symbol),
            comment=options["comment"],
        )  # fmt: skip
