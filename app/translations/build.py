"""Build the UI catalogues: ``python -m app.translations.build [--check | --update]``.

- no option: compile ``zh_Hant/LC_MESSAGES/messages.po`` (edited by hand) to ``.mo``, and
  derive Simplified Chinese (``zh_Hans/LC_MESSAGES/messages.po`` and ``.mo``, both
  generated, git-ignored) by converting every msgstr with OpenCC ``t2s`` plus a few
  mainland-usage overrides. English needs no catalogue: the msgids are English.
- ``--check``: fail if a msgid used in the code is missing from the zh_Hant catalogue or
  left untranslated (or fuzzy), or if a translation breaks a placeholder.
- ``--update``: re-extract the msgids and merge them into the zh_Hant catalogue (new
  entries empty, removed ones kept as obsolete ``#~``), then print what needs translating.

The msgids are those pybabel extracts from app/ with babel.cfg (``_``, ``gettext``,
``lazy_gettext``/``_l``, ``ngettext`` in Python and templates), plus the English messages
that the domain core raises (``ValidationError`` & co. and their ``fields``) and that the
error page and form fields translate with ``_(message)`` when they show them: records/,
search/ and retention/ never import Flask-Babel, so those literals are collected here from
the source. Messages built at run time cannot be catalogued: they are written as
``records.errors.Msg("... %(name)s ...", name=value)`` (collected here by their msgid), and the
app translates the msgid before filling the placeholders (app/messages.py).
"""
from __future__ import annotations

import argparse
import ast
import io
import os
import re
import secrets
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
APP_DIR = HERE.parent
ROOT = APP_DIR.parent
BABEL_CFG = ROOT / "babel.cfg"
DOMAIN = "messages"
SOURCE_LOCALE = "zh_Hant"
DERIVED_LOCALE = "zh_Hans"
PROJECT = "Xinfang Records"

#: Packages whose raised messages reach users (through the error page or a form field).
MESSAGE_PACKAGES = ("records", "search", "retention", "app")
#: The domain errors whose message a user sees (CryptoError/ConfigurationError are 500s
#: that the app replaces with a fixed message). Subclasses defined in the scanned code count too.
USER_ERRORS = frozenset({"ValidationError", "NotFound", "AccessDenied", "Conflict", "TooLarge"})
#: Calls whose first argument is a msgid: ``records.errors.Msg`` and the helpers that wrap
#: their argument in one (search/syntax.py's query_error, search/query.py's bad).
MESSAGE_HELPERS = frozenset({"Msg", "query_error", "bad"})
#: Dicts that collect per-field messages before a ValidationError is raised with them.
_FIELD_DICT = re.compile(r"(?:\w*_)?errors|fields")

#: Where OpenCC's character-level t2s conversion gives Taiwan/Hong Kong wording or the wrong
#: character for mainland usage. Keys are Traditional text as written in the zh_Hant
#: catalogue, values the Simplified text to use instead; the longest key wins.
MAINLAND_OVERRIDES: dict[str, str] = {
    "臺帳": "台账",
    "帳號": "账号",
    "帳戶": "账户",
    "網上": "网上",
    "登入": "登录",
    "登出": "退出登录",
    "使用者名稱": "用户名",
    "使用者": "用户",
    "身分證": "身份证",
    "身分": "身份",
    "電子郵件": "电子邮件",
    "網路": "网络",
    "資料庫": "数据库",
    "預設": "默认",
    "設定": "设置",
    "檔案類型": "文件类型",
    "上傳檔案": "上传文件",
    "檔案": "文件",
    "檔案管理": "档案管理",
    "檔案館": "档案馆",
    "歸檔": "归档",
    "存檔": "存档",
    "搜尋": "搜索",
    "查詢": "查询",
    "訊息": "信息",
    "支援": "支持",
    "程式": "程序",
    "列印": "打印",
    "影像": "图像",
    "重新整理": "刷新",
    "重設": "重置",
    "透過": "通过",
    "權杖": "令牌",
    "伺服器": "服务器",
    "選單": "菜单",
    "連結": "链接",
    "全形": "全角",
    "半形": "半角",
    "字元": "字符",
    "物件": "对象",
    "欄位": "字段",
    "純文字": "纯文本",
    "重新載入": "重新加载",
    "建立帳號": "创建账号",
    "儲存": "存储",
    "傳送": "发送",
    "送出": "提交",
    "資訊": "信息",
    "開啟": "打开",
    "金鑰": "密钥",
    "此 QR 碼": "此二维码",
    "QR 碼": "二维码",
    "逾時": "超时",
    "應用程式": "应用",
    "萬用字元": "通配符",
    "雜湊": "哈希",
    "稽核": "审计",
    "匯出": "导出",
    "資料夾": "文件夹",
    "字串": "字符串",
    "「": "“",
    "」": "”",
    "隨著": "随着",
    "接著": "接着",
}


class BuildError(Exception):
    """A catalogue could not be read, checked or written."""


def _po_path(locale: str) -> Path:
    return HERE / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def _mo_path(locale: str) -> Path:
    return HERE / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


# -- collecting the msgids -----------------------------------------------------------
def extract_app_messages() -> list[tuple[str | tuple[str, ...], str, str | None]]:
    """(msgid, location, context) of every string that app/ passes to a gettext function."""
    if not BABEL_CFG.is_file():
        raise BuildError(f"{BABEL_CFG} is missing")
    with BABEL_CFG.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(BABEL_CFG))
    found = []
    for filename, _lineno, message, _comments, context in extract_from_dir(str(APP_DIR), method_map, options_map):
        found.append((message, f"{APP_DIR.name}/{filename}".replace(os.sep, "/"), context))
    return found


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literals(node: ast.AST | None) -> list[str]:
    """The whole-string literals an expression may evaluate to (f-strings and sums are skipped)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value.strip() else []
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [s for v in node.values for s in _literals(v)]
    return []


def _dict_values(node: ast.AST | None) -> list[str]:
    if isinstance(node, ast.Dict):
        return [s for v in node.values for s in _literals(v)]
    if isinstance(node, ast.DictComp):
        return _literals(node.value)
    return []


def _python_sources() -> list[Path]:
    files = []
    for package in MESSAGE_PACKAGES:
        base = ROOT / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts)
            if "__pycache__" in parts or "migrations" in parts or path.parent == HERE:
                continue
            files.append(path)
    return files


def collect_error_messages() -> list[tuple[str, str]]:
    """(message, location) of the literal messages raised to users in records/, search/,
    retention/ and app/: error constructors' first argument and ``fields``, per-field
    messages put into ``errors``/``fields`` dicts, and app/errors.py's messages."""
    trees = []
    for path in _python_sources():
        try:
            trees.append((path, ast.parse(path.read_text(encoding="utf-8"), str(path))))
        except SyntaxError as exc:
            raise BuildError(f"cannot parse {path.relative_to(ROOT)}: {exc}") from None
    errors = set(USER_ERRORS)
    grew = True
    while grew:
        grew = False
        for _path, tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in errors \
                        and any(_name(b) in errors for b in node.bases):
                    errors.add(node.name)
                    grew = True

    found: list[tuple[str, str]] = []
    for path, tree in trees:
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            texts: list[str] = []
            if isinstance(node, ast.Call):
                callee = _name(node.func)
                if callee in errors:
                    if node.args:
                        texts += _literals(node.args[0])
                    for kw in node.keywords:
                        if kw.arg in ("message",):
                            texts += _literals(kw.value)
                        elif kw.arg == "fields":
                            texts += _dict_values(kw.value)
                elif callee in MESSAGE_HELPERS:
                    texts += _literals(node.args[0]) if node.args else []
                elif callee == "error_response":
                    texts += [s for a in node.args for s in _literals(a)]
                elif callee == "update" and isinstance(node.func, ast.Attribute) \
                        and _FIELD_DICT.fullmatch(_name(node.func.value) or ""):
                    texts += [s for a in node.args for s in _dict_values(a)]
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Subscript) and _FIELD_DICT.fullmatch(_name(target.value) or ""):
                        texts += _literals(node.value)
                    elif isinstance(target, ast.Name) and target.id == "message":
                        texts += _literals(node.value)
                    elif isinstance(target, ast.Name) and target.id == "messages":
                        texts += _dict_values(node.value)
            elif isinstance(node, ast.Return) and path.name == "guards.py":
                # the workflow's guards return why a step is refused; the workflow raises it
                texts += _literals(node.value)
            found += [(t, where) for t in texts]
    return found


def template_catalog() -> Catalog:
    """Every msgid the UI may ask for, as a catalogue template (no translations)."""
    template = Catalog(project=PROJECT, fuzzy=False)
    for message, location, context in extract_app_messages():
        existing = template.get(message, context)
        if existing is not None:
            existing.locations.append((location, None))
        else:
            template.add(message, locations=[(location, None)], context=context)
    for message, location in collect_error_messages():
        existing = template.get(message)
        if existing is not None:
            if (location, None) not in existing.locations:
                existing.locations.append((location, None))
        else:
            template.add(message, locations=[(location, None)])
    for message in template:
        if message.id:
            message.locations = sorted(set(message.locations))
    return template


# -- reading and writing -----------------------------------------------------------
def read_catalog(path: Path, locale: str) -> Catalog:
    try:
        with path.open("rb") as fh:
            return read_po(fh, locale=locale, domain=DOMAIN, abort_invalid=True)
    except FileNotFoundError:
        raise BuildError(f"{path.relative_to(ROOT)} is missing") from None
    except Exception as exc:  # babel raises PoFileError and friends
        raise BuildError(f"cannot read {path.relative_to(ROOT)}: {exc}") from None


def _po_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, include_lineno=False, sort_output=False)
    return buf.getvalue()


def _mo_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def _write(path: Path, data: bytes, log) -> bool:
    """Write atomically (parallel test workers may build at once); only when the bytes change."""
    rel = path.relative_to(ROOT)
    try:
        if path.read_bytes() == data:
            log(f"up to date  {rel}")
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # A plain open (not mkstemp's 0600), so the catalogues get the usual umask-based mode.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log(f"wrote       {rel}")
    return True


# -- checking ----------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|%")


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


def translation_problems(catalog: Catalog) -> list[str]:
    """Broken translations: a placeholder lost, added or changed (Jinja applies ``%`` to
    every translated string, so a stray ``%`` breaks a page)."""
    problems = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        want = _placeholders(ids[0])
        for s in strings:
            if s and _placeholders(s) != want:
                problems.append(f"placeholders differ for {ids[0]!r}: {s!r}")
    for message, errors in catalog.check():
        for err in errors:
            problems.append(f"{message.id!r}: {err}")
    return sorted(set(problems))


def check(log=print) -> int:
    """0 when every msgid in use is translated in zh_Hant and no translation is broken."""
    template = template_catalog()
    catalog = read_catalog(_po_path(SOURCE_LOCALE), SOURCE_LOCALE)
    missing, untranslated = [], []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, message.context)
        if entry is None:
            missing.append(message)
        elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)) or entry.fuzzy:
            untranslated.append(message)
    problems = translation_problems(catalog)
    rel = _po_path(SOURCE_LOCALE).relative_to(ROOT)
    for message in missing:
        log(f"missing from {rel}: {message.id!r}  ({', '.join(loc for loc, _ in message.locations)})")
    for message in untranslated:
        log(f"not translated (empty or fuzzy) in {rel}: {message.id!r}")
    for problem in problems:
        log(f"broken translation in {rel}: {problem}")
    used = sum(1 for m in template if m.id)
    if missing or untranslated or problems:
        log(f"{len(missing)} missing, {len(untranslated)} untranslated, {len(problems)} broken "
            f"of {used} msgids in use; run `python -m app.translations.build --update`, translate, rebuild.")
        return 1
    unused = sum(1 for m in catalog if m.id and template.get(m.id, m.context) is None)
    log(f"ok: all {used} msgids in use are translated in {rel}"
        + (f" ({unused} entries no longer used)" if unused else ""))
    return 0


# -- building ----------------------------------------------------------------------
_converter = None


def _opencc():
    global _converter
    if _converter is None:
        import opencc

        _converter = opencc.OpenCC("t2s")
    return _converter


_OVERRIDE_RE = re.compile("|".join(re.escape(k) for k in sorted(MAINLAND_OVERRIDES, key=len, reverse=True)))


def to_simplified(text: str) -> str:
    """Traditional → Simplified for mainland readers: OpenCC t2s, with MAINLAND_OVERRIDES."""
    out, pos = [], 0
    for m in _OVERRIDE_RE.finditer(text):
        out.append(_opencc().convert(text[pos:m.start()]))
        out.append(MAINLAND_OVERRIDES[m.group(0)])
        pos = m.end()
    out.append(_opencc().convert(text[pos:]))
    return "".join(out)


def simplified_catalog(source: Catalog) -> Catalog:
    derived = Catalog(locale=DERIVED_LOCALE, domain=DOMAIN, project=PROJECT,
                      header_comment=f"# Simplified Chinese for {PROJECT}: GENERATED from "
                                     f"{SOURCE_LOCALE}/LC_MESSAGES/{DOMAIN}.po by app/translations/build.py.\n"
                                     "# Do not edit: change the zh_Hant catalogue or the overrides in build.py.",
                      creation_date=source.creation_date, revision_date=source.revision_date,
                      fuzzy=False)
    for message in source:
        if not message.id:
            continue
        if isinstance(message.string, tuple):
            string = tuple(to_simplified(s) for s in message.string)
        else:
            string = to_simplified(message.string or "")
        derived.add(message.id, string, locations=message.locations, flags=message.flags,
                    context=message.context)
    return derived


def build(log=print) -> list[Path]:
    """Compile zh_Hant, derive and compile zh_Hans; returns the files written (idempotent)."""
    source = read_catalog(_po_path(SOURCE_LOCALE), SOURCE_LOCALE)
    problems = translation_problems(source)
    if problems:
        raise BuildError("broken translations in the zh_Hant catalogue:\n  " + "\n  ".join(problems))
    empty = sum(1 for m in source if m.id and (not m.string or m.fuzzy))
    if empty:
        log(f"note: {empty} zh_Hant entries are empty or fuzzy and will show in English "
            "(run with --check to list them)")
    derived = simplified_catalog(source)
    written = []
    for path, data in ((_mo_path(SOURCE_LOCALE), _mo_bytes(source)),
                       (_po_path(DERIVED_LOCALE), _po_bytes(derived)),
                       (_mo_path(DERIVED_LOCALE), _mo_bytes(derived))):
        if _write(path, data, log):
            written.append(path)
    return written


def ensure_compiled(log=None) -> bool:
    """Build when a .mo or the derived catalogue is missing or older than the zh_Hant .po
    (or than this script); True when something was rebuilt."""
    sources = [_po_path(SOURCE_LOCALE), Path(__file__).resolve()]
    targets = [_mo_path(SOURCE_LOCALE), _po_path(DERIVED_LOCALE), _mo_path(DERIVED_LOCALE)]
    newest = max(p.stat().st_mtime for p in sources)
    if all(t.exists() and t.stat().st_mtime >= newest for t in targets):
        return False
    build(log=log or (lambda _line: None))
    # _write leaves unchanged files alone; touch them so the next check is cheap.
    for t in targets:
        if t.exists() and t.stat().st_mtime < newest:
            os.utime(t, (newest, newest))
    return True


def update(log=print) -> int:
    """Merge the msgids in use into the zh_Hant catalogue; new ones get an empty msgstr."""
    path = _po_path(SOURCE_LOCALE)
    template = template_catalog()
    if path.exists():
        catalog = read_catalog(path, SOURCE_LOCALE)
    else:
        catalog = Catalog(locale=SOURCE_LOCALE, domain=DOMAIN, project=PROJECT, fuzzy=False)
    before = {(m.id, m.context) for m in catalog if m.id}
    template.creation_date = catalog.creation_date  # no date churn when nothing changed
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    after = {(m.id, m.context) for m in catalog if m.id}
    _write(path, _po_bytes(catalog), log)
    added = sorted(after - before, key=str)
    for msgid, _ctx in added:
        log(f"new msgid: {msgid!r}")
    for msgid in sorted(catalog.obsolete, key=str):
        log(f"no longer used (kept as obsolete #~): {msgid!r}")
    todo = sum(1 for m in catalog if m.id and (not m.string or m.fuzzy))
    log(f"{len(added)} new, {todo} to translate in {path.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.translations.build", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if a msgid in use is missing or untranslated")
    mode.add_argument("--update", action="store_true", help="merge new msgids into the zh_Hant catalogue")
    args = parser.parse_args(argv)
    try:
        if args.check:
            return check()
        if args.update:
            return update()
        build()
        return 0
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
