"""The operator's certificate commands: the platform's CA, organisations' certificates, the CRL
and outside trust anchors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aedx.accounts import certificates
from aedx.accounts import organisations as orgs
from aedx.cli_exchange import DatabaseOption, DataDirOption, as_operator, err, print_rows
from aedx.trust.pki import Authority, Usage

pki_app = typer.Typer(help="憑證 Certificates", no_args_is_help=True)
UsageOption = Annotated[Usage, typer.Option("--usage", help="簽章 signing 或 加密 encryption")]


@pki_app.command("init")
def pki_init(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """建立平台根憑證與發證中心 — create the platform's root and issuing CA."""
    with as_operator(data_dir, database) as (platform, _, _operator):
        authority = Authority.create(platform.pki_folder)
    err.print(f"根憑證 root: {authority.folder / 'root.pem'}")
    err.print(f"發證中心 issuing CA: {authority.folder / 'issuing.pem'}")


@pki_app.command("issue")
def pki_issue(
    code: Annotated[str, typer.Argument(help="機關代號 organisation code")],
    usage: UsageOption,
    out: Annotated[Path, typer.Option("--out", help="輸出資料夾 where to write the certificate (and key)")],
    csr: Annotated[Path | None, typer.Option(help="機關之憑證請求檔 the organisation's CSR (PEM)")] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """核發機關憑證 — certify an organisation's key: from its CSR, or with a key made here."""
    with as_operator(data_dir, database) as (platform, session, operator):
        orgs.seed_reference(session, operator.actor)
        issued = certificates.issue(
            session, platform.authority, code, usage, operator.actor, csr.read_bytes() if csr else None
        )
    out.mkdir(parents=True, exist_ok=True)
    cert_file = out / f"{code}-{usage.value}.pem"
    cert_file.write_text(issued.certificate.pem)
    err.print(f"憑證 certificate: {cert_file}（序號 serial {issued.certificate.serial}）")
    if issued.key_pem is not None:
        key_file = out / f"{code}-{usage.value}.key"
        key_file.touch(mode=0o600)
        key_file.write_bytes(issued.key_pem)
        err.print(f"私鑰 private key: {key_file}（平台不留存，請妥善交付 not kept by the platform）")


@pki_app.command("renew")
def pki_renew(
    serial: Annotated[str, typer.Argument(help="憑證序號 serial (hex)")],
    out: Annotated[Path, typer.Option("--out", help="輸出資料夾 where to write the new certificate")],
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """展期：同一金鑰之新憑證 — a new certificate for the same key."""
    with as_operator(data_dir, database) as (platform, session, operator):
        cert = certificates.renew(session, platform.authority, serial, operator.actor)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{cert.serial}.pem").write_text(cert.pem)
    err.print(f"新憑證 new certificate: {out / f'{cert.serial}.pem'}")


@pki_app.command("revoke")
def pki_revoke(
    serial: Annotated[str, typer.Argument(help="憑證序號 serial (hex)")],
    reason: Annotated[str, typer.Option(help=", ".join(certificates.REASONS))] = "unspecified",
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """撤銷憑證 — revoke a certificate (it appears in the next CRL)."""
    with as_operator(data_dir, database) as (_, session, operator):
        certificates.revoke(session, serial, reason, operator.actor)
    err.print(f"已撤銷 revoked {serial}")


@pki_app.command("crl")
def pki_crl(
    out: Annotated[Path | None, typer.Option("--out", help="輸出檔（預設輸出至螢幕）")] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """產生憑證廢止清冊 — the issuing CA's CRL (PEM)."""
    with as_operator(data_dir, database) as (platform, session, _operator):
        crl = certificates.crl(session, platform.authority)
    if out:
        out.write_bytes(crl)
    else:
        typer.echo(crl.decode(), nl=False)


@pki_app.command("trust")
def pki_trust(
    root: Annotated[Path, typer.Argument(help="外部根憑證 an outside root CA certificate (PEM)")],
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """信任外部根憑證（如政府憑證總管理中心）— trust an outside root CA."""
    with as_operator(data_dir, database) as (platform, _, _operator):
        cert = certificates.trust(platform.authority.folder / "anchors", root.read_bytes())
    err.print(f"已信任 trusted: {cert.subject.rfc4514_string()}", highlight=False)


@pki_app.command("import")
def pki_import(
    code: Annotated[str, typer.Argument(help="機關代號 organisation code")],
    cert: Annotated[Path, typer.Argument(help="機關憑證 the organisation's certificate (PEM)")],
    usage: UsageOption,
    chain: Annotated[Path | None, typer.Option(help="中繼憑證 intermediate certificates (PEM)")] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """匯入外部核發之憑證，驗證其憑證鏈 — import a certificate issued elsewhere, checked up its chain."""
    with as_operator(data_dir, database) as (platform, session, operator):
        row = certificates.import_external(
            session,
            platform.authority,
            code,
            usage,
            cert.read_bytes(),
            chain.read_bytes() if chain else b"",
            operator.actor,
        )
    err.print(f"已匯入 imported {row.subject}（序號 serial {row.serial}）", highlight=False)


@pki_app.command("list")
def pki_list(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """列出憑證 — list certificates."""
    with as_operator(data_dir, database) as (_, session, _operator):
        rows = [
            (code, c.usage, c.serial, f"{c.not_after:%Y-%m-%d}",
             f"revoked {c.revocation_reason}" if c.revoked_at else "valid", c.issuer)
            for c, code in certificates.listing(session)
        ]  # fmt: skip
    heads = ("機關 org", "用途 usage", "序號 serial", "到期 not after", "狀態 state", "發證者 issuer")
    print_rows(heads, rows, ("organisation", "usage", "serial", "not_after", "state", "issuer"))


def register(app: typer.Typer) -> None:
    app.add_typer(pki_app, name="pki")
