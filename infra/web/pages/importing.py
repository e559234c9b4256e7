"""Import of a registry spreadsheet: the template, the upload, and the per-row report."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infra import spreadsheet
from infra.web.dependencies import ServicesDep
from infra.web.pages.session import FormFields, PageActor, caught_up, render
from infra.web.routers.assessments import XLSX
from services.permissions import require

router = APIRouter(prefix="/ui")


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request, actor: PageActor) -> HTMLResponse:
    require(actor, "child.register")
    return render(request, "import.html")


@router.get("/import/template.xlsx")
def import_template(actor: PageActor) -> Response:
    require(actor, "child.register")
    return Response(spreadsheet.template(), media_type=XLSX, headers={
        "Content-Disposition": 'attachment; filename="registry-template.xlsx"'})


@router.post("/import", response_class=HTMLResponse)
async def import_upload(request: Request, s: ServicesDep, actor: PageActor,
                        form: FormFields) -> HTMLResponse:
    require(actor, "child.register")
    upload = form.get("file")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    # Reading a workbook is seconds of CPU, registering blocks on the store: both off the
    # event loop, so /healthz and everyone else's pages answer while an import runs.
    try:
        rows = await run_in_threadpool(spreadsheet.read_rows, data)
    except spreadsheet.SheetError as error:
        return render(request, "import.html", status=422, sheet_error=str(error))
    await run_in_threadpool(spreadsheet.import_rows, rows, s.handlers.register_child,
                            s.app.exists, actor)
    counts = spreadsheet.summary(rows)
    await run_in_threadpool(caught_up, s, s.app.max_position())  # the links open new files
    return render(request, "import.html", rows=rows, counts=counts)
