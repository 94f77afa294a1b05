"""The ``nija`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path


def _setup_logging(data_dir: Path | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if data_dir is not None:
        (data_dir / "logs").mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(data_dir / "logs" / "nija.log"))
    logging.basicConfig(
        level=os.environ.get("NIJA_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
    # Library chatter at INFO would drown ours.
    for noisy in ("aiosqlite", "asyncio", "alembic", "nats"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _data_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("NIJA_DATA_DIR") or "var").resolve()


def _cmd_up(args) -> int:
    from nija.services.launcher import PortInUse, UpOptions, up

    if getattr(args, "market_data", None):
        os.environ["NIJA_MARKET_DATA"] = args.market_data  # read by the trading engine at start
    if getattr(args, "demo", False):
        os.environ["NIJA_DEMO"] = "1"
    data_dir = _data_dir(args.data_dir)
    _setup_logging(data_dir)
    opts = UpOptions(
        data_dir=data_dir, http_host=args.http_host, http_port=args.http_port, grpc_port=args.grpc_port,
        envoy_admin_port=args.envoy_admin_port, nats_port=args.nats_port, stream_port=args.stream_port,
    )
    try:
        return asyncio.run(up(opts))
    except PortInUse as exc:
        print(f"nija: {exc}", file=sys.stderr)
        return 2


def _cmd_serve(args) -> int:
    from nija.services.launcher import serve
    from nija.services.server import SERVICE_NAMES

    unknown = sorted(set(args.services) - set(SERVICE_NAMES) - {"stream"})
    if unknown:
        print(f"nija: unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}", file=sys.stderr)
        return 2
    data_dir = _data_dir(args.data_dir)
    _setup_logging(data_dir)
    return asyncio.run(serve(args.services, data_dir, args.grpc_host, args.grpc_port, args.migrate, args.stream_port))


def _cmd_migrate(args) -> int:
    from nija.core.config import Config
    from nija.core.db import migrate

    data_dir = _data_dir(args.data_dir)
    _setup_logging(data_dir)
    asyncio.run(migrate(Config.from_env(data_dir).database_url))
    print("database is at the newest schema")
    return 0


def _cmd_admin_create(args) -> int:
    from nija.core.accounts import AccountService
    from nija.core.config import Config
    from nija.core.db import Database, migrate
    from nija.core.errors import NijaError
    from nija.core.security import KeyStore, TokenIssuer

    if not args.password_stdin:
        print("nija: pass the password on standard input with --password-stdin", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    data_dir = _data_dir(args.data_dir)
    _setup_logging(None)
    config = Config.from_env(data_dir)

    async def run() -> int:
        await migrate(config.database_url)
        db = Database(config.database_url)
        keys = KeyStore(config.keys_dir).load()
        tokens = TokenIssuer(keys, issuer=config.jwt_issuer, audience=config.jwt_audience, ttl_s=config.access_token_ttl_s)
        try:
            user, created = await AccountService(db, tokens, config).bootstrap_admin(args.email, password)
        except NijaError as exc:
            print(f"nija: {exc.message}", file=sys.stderr)
            return 2
        finally:
            await db.close()
        verb = "created admin" if created else "granted the admin role to existing user"
        print(f"{verb} {user.email} (id {user.id})")
        return 0

    return asyncio.run(run())


def _cmd_keys_rotate(args) -> int:
    """Re-encrypt every stored exchange credential under a new master key, without downtime:
    the key file keeps the old keys after the new one, so running processes (which re-read it on
    a decryption miss) and rows not yet re-encrypted keep working."""
    from nija.core.clock import SystemClock
    from nija.core.config import Config
    from nija.core.db import Database, migrate
    from nija.core.trading._credentials import ENV, KEY_FILE, CredentialVault, MasterKeys, rotate_key_file

    data_dir = _data_dir(args.data_dir)
    _setup_logging(None)
    config = Config.from_env(data_dir)

    async def run() -> int:
        await migrate(config.database_url)
        if os.environ.get(ENV):
            # Keys managed outside NIJA: the operator puts the new key first in NIJA_MASTER_KEYS.
            keys = MasterKeys.load(data_dir / "keys")
            print(f"{ENV} is set: re-encrypting under its first key")
        else:
            path = data_dir / "keys" / KEY_FILE
            MasterKeys.load(data_dir / "keys")  # creates the file on first use
            rotate_key_file(path)
            keys = MasterKeys.load(data_dir / "keys")
            print(f"added a new master key to {path}")
        db = Database(config.database_url)
        try:
            n, failed = await CredentialVault(db, SystemClock(), keys, validate=None).rotate()
        finally:
            await db.close()
        print(f"re-encrypted {n} broker connection(s)")
        if failed:
            print(f"nija: {failed} broker connection(s) cannot be decrypted with the configured master keys; "
                  "left unchanged", file=sys.stderr)
            return 3
        return 0

    return asyncio.run(run())


def _cmd_plugins(args) -> int:
    from nija.core.plugins import PluginManager
    from nija.core.strategies import describe_parameters

    plugins = PluginManager().load_entry_points().all()
    if not plugins:
        print("no plugins found")
        return 0
    print(f"{'KIND':<10}{'NAME':<22}{'VERSION':<10}DISTRIBUTION")
    for p in plugins:
        print(f"{p.kind:<10}{p.name:<22}{p.version:<10}{p.distribution}")
        for spec in describe_parameters(p.cls):
            rng = ""
            if "minimum" in spec or "maximum" in spec:
                rng = f" [{spec.get('minimum', '')}..{spec.get('maximum', '')}]"
            if "choices" in spec:
                rng = f" {{{', '.join(spec['choices'])}}}"
            print(f"{'':<10}  {spec['name']}: {spec['type']} = {spec['default']}{rng}  {spec['description']}")
    return 0


def _cmd_backtest(args) -> int:
    from decimal import Decimal, InvalidOperation

    from nija.core.backtest import BacktestConfig, load_csv, run_backtest
    from nija.core.errors import NijaError
    from nija.core.portfolio import FillModel

    logging.basicConfig(level=os.environ.get("NIJA_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr)
    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"nija: --param expects key=value, got {item!r}", file=sys.stderr)
            return 2
        params[key.strip()] = value.strip()
    try:
        model = FillModel(slippage_bps=Decimal(args.slippage_bps), maker_fee_bps=Decimal(args.maker_fee_bps),
                          taker_fee_bps=Decimal(args.taker_fee_bps))
        config = BacktestConfig(initial_cash=Decimal(args.cash), fill_model=model,
                                progress=False if args.no_progress else None)
    except InvalidOperation:
        print("nija: --cash, --slippage-bps and the fee options must be decimal numbers", file=sys.stderr)
        return 2
    try:
        markets = [load_csv(path) for path in args.data]
        result = run_backtest(args.strategy, markets, params=params, config=config)
    except NijaError as exc:
        print(f"nija: {exc.message}", file=sys.stderr)
        return 2
    print(result.summary())
    if args.out:
        json_path, html_path = result.write(args.out)
        print(f"wrote {json_path} and {html_path}")
    return 0


def _port(value: str) -> int:
    port = int(value)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nija", description="NIJA: multi-user autonomous crypto trading platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p_up = sub.add_parser("up", help="run the whole platform on embedded defaults")
    p_up.add_argument("--data-dir", help="database, keys and logs (default ./var or $NIJA_DATA_DIR)")
    p_up.add_argument("--http-host", default="127.0.0.1", help="address Envoy's REST listener binds (default 127.0.0.1)")
    p_up.add_argument("--http-port", type=_port, default=8080, help="Envoy REST port (default 8080)")
    p_up.add_argument("--grpc-port", type=_port, default=50051, help="gRPC port (default 50051)")
    p_up.add_argument("--envoy-admin-port", type=_port, default=9901, help="Envoy admin port (default 9901)")
    p_up.add_argument("--nats-port", type=_port, default=None, help="embedded NATS port (default: a free port)")
    p_up.add_argument("--demo", action="store_true",
                      help="create a demo user with a paper bot running apex on replayed data (make run)")
    p_up.add_argument("--market-data", default=None,
                      help="candles for bots: replay:DIR[,speed=N|max] or ccxt:EXCHANGE[,poll=S][,history=N] "
                           "(live public candles; default $NIJA_MARKET_DATA, else the repository's replay data at speed 60)")
    p_up.add_argument("--stream-port", type=_port, default=None,
                      help="loopback port of the WebSocket/dashboard service behind Envoy (default: a free port)")
    p_up.set_defaults(func=_cmd_up)

    p_serve = sub.add_parser("serve", help="run chosen gRPC services only (production shape)")
    p_serve.add_argument("services", nargs="*", help="accounts, trading, risk, billing, market, admin, platform (default all)")
    p_serve.add_argument("--data-dir")
    p_serve.add_argument("--grpc-host", default="127.0.0.1")
    p_serve.add_argument("--grpc-port", type=int, default=50051)
    p_serve.add_argument("--migrate", action="store_true", help="apply database migrations first")
    p_serve.add_argument("--stream-port", type=_port, default=8090, help="port of the `stream` service (default 8090)")
    p_serve.set_defaults(func=_cmd_serve)

    p_migrate = sub.add_parser("migrate", help="apply database migrations")
    p_migrate.add_argument("--data-dir")
    p_migrate.set_defaults(func=_cmd_migrate)

    p_admin = sub.add_parser("admin", help="administration")
    admin_sub = p_admin.add_subparsers(dest="admin_command", required=True)
    p_create = admin_sub.add_parser("create", help="create an admin (or grant the role to an existing user)")
    p_create.add_argument("--email", required=True)
    p_create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p_create.add_argument("--data-dir")
    p_create.set_defaults(func=_cmd_admin_create)

    p_keys = sub.add_parser("keys", help="master keys of the stored exchange credentials")
    keys_sub = p_keys.add_subparsers(dest="keys_command", required=True)
    p_rotate = keys_sub.add_parser("rotate", help="re-encrypt every stored credential under a new master key")
    p_rotate.add_argument("--data-dir", help="data directory (default ./var or $NIJA_DATA_DIR)")
    p_rotate.set_defaults(func=_cmd_keys_rotate)

    p_plugins = sub.add_parser("plugins", help="list discovered strategy and broker plugins")
    p_plugins.set_defaults(func=_cmd_plugins)

    p_bt = sub.add_parser("backtest", help="run a strategy over recorded candles (CSV)")
    p_bt.add_argument("--strategy", required=True, help="a strategy plugin name (see `nija plugins`)")
    p_bt.add_argument("--data", required=True, action="append",
                      help="CSV with timestamp_ms,open,high,low,close,volume; repeat for multi-market runs")
    p_bt.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a strategy parameter")
    p_bt.add_argument("--out", help="directory for result.json and report.html")
    p_bt.add_argument("--cash", default="10000", help="initial cash in the quote currency (default 10000)")
    p_bt.add_argument("--slippage-bps", default="5", help="slippage on market and stop fills (default 5)")
    p_bt.add_argument("--maker-fee-bps", default="10", help="fee on resting limit fills (default 10)")
    p_bt.add_argument("--taker-fee-bps", default="10", help="fee on market and stop fills (default 10)")
    p_bt.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p_bt.set_defaults(func=_cmd_backtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
