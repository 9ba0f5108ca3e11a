"""The seed's FastAPI service: the tenant comes from authentication, never from the client.

Every request carries an API key (Authorization: Bearer lmk_...). The key is verified by the
library (hash compared in constant time; revocation and expiry checked on every request) and
names the tenant; a request that also names a different tenant (X-Tenant-ID header or tenant_id
query parameter, e.g. a forged one) is refused with 403. Read keys cannot write.

    LLMEMORY_DATABASE_URL=... uvicorn fastapi_app:app --port 8000
    python fastapi_app.py create-key workspace-1 [read|write|admin]   # prints a key once
"""

from __future__ import annotations

import os
import sys
from contextlib import asynccontextmanager
from typing import Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel

from llmemory import (
    DocumentNotFoundError,
    DocumentType,
    KeyScope,
    LLMemory,
    PermissionError,
    Principal,
    SearchType,
    ValidationError,
    owner_covers,
)

memory: Optional[LLMemory] = None


@asynccontextmanager
async def lifespan(_app: FastAPI):
    global memory
    memory = LLMemory(os.environ.get("LLMEMORY_DATABASE_URL"),
                      schema=os.environ.get("LLMEMORY_SCHEMA"), pool_size=8)
    await memory.initialize()
    yield
    await memory.close()


app = FastAPI(lifespan=lifespan)


async def get_current_user(authorization: str = Header(default="")) -> Principal:
    """Authentication: the API key decides who the caller is."""
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(status_code=401, detail="missing API key")
    try:
        return await memory.verify_api_key(key)
    except PermissionError as e:
        raise HTTPException(status_code=401, detail=e.message) from None


async def get_tenant_id(user: Principal = Depends(get_current_user),
                        x_tenant_id: Optional[str] = Header(default=None),
                        tenant_id: Optional[str] = Query(default=None)) -> str:
    """The tenant is the key's owner. A client-supplied tenant is only accepted when the key
    covers it (its own id, or a sub-tenant for keys allowed to act on them); anything else is a
    forgery and is refused."""
    asked = x_tenant_id or tenant_id
    if asked is None or asked == user.owner_id:
        return user.owner_id
    if user.allow_subtenants and owner_covers(user.owner_id, asked):
        return asked
    raise HTTPException(status_code=403, detail="Access denied")


def require_write(user: Principal = Depends(get_current_user)) -> Principal:
    if user.scope == KeyScope.READ:
        raise HTTPException(status_code=403, detail="this key is read-only")
    return user


class DocumentCreate(BaseModel):
    name: str
    content: str
    type: str = "text"
    id_at_origin: Optional[str] = None
    metadata: Optional[dict] = None


def _bad_request(e: ValidationError) -> HTTPException:
    return HTTPException(status_code=400, detail={"field": e.field, "message": e.message})


@app.post("/api/documents", status_code=201)
async def add_document(doc: DocumentCreate, tenant_id: str = Depends(get_tenant_id),
                       user: Principal = Depends(require_write)):
    origin = doc.id_at_origin or user.origin or user.key_id
    if user.origin and origin != user.origin:
        raise HTTPException(status_code=403, detail="this key is bound to another document")
    try:
        result = await memory.add_document(owner_id=tenant_id, id_at_origin=origin,
                                           document_name=doc.name,
                                           document_type=DocumentType(doc.type.lower())
                                           if doc.type.lower() in DocumentType._value2member_map_
                                           else doc.type,
                                           content=doc.content, metadata=doc.metadata)
    except ValidationError as e:
        raise _bad_request(e) from None
    return {"document_id": str(result.document.document_id),
            "chunks_created": result.chunks_created}


@app.get("/api/search")
async def search(q: str, limit: int = 10, type: str = "hybrid",
                 tenant_id: str = Depends(get_tenant_id)):
    try:
        results = await memory.search(owner_id=tenant_id, query_text=q,
                                      search_type=SearchType(type) if type in
                                      SearchType._value2member_map_ else type, limit=limit)
    except ValidationError as e:
        raise _bad_request(e) from None
    return {"results": [r.to_dict() for r in results]}


@app.get("/api/documents")
async def list_documents(limit: int = 20, offset: int = 0,
                         tenant_id: str = Depends(get_tenant_id)):
    try:
        result = await memory.list_documents(owner_id=tenant_id, limit=limit, offset=offset)
    except ValidationError as e:
        raise _bad_request(e) from None
    return {"documents": [d.to_dict() for d in result.documents], "total": result.total}


@app.get("/api/documents/{document_id}")
async def get_document(document_id: str, tenant_id: str = Depends(get_tenant_id)):
    try:
        d = await memory.get_document(owner_id=tenant_id, document_id=document_id,
                                      include_chunks=True)
    except (DocumentNotFoundError, ValidationError):
        raise HTTPException(status_code=404, detail="document not found") from None
    return {**d.document.to_dict(), "chunks": [c.content for c in d.chunks or []]}


@app.delete("/api/documents/{document_id}", status_code=204)
async def delete_document(document_id: str, tenant_id: str = Depends(get_tenant_id),
                          _user: Principal = Depends(require_write)):
    try:
        await memory.delete_document(owner_id=tenant_id, document_id=document_id)
    except (DocumentNotFoundError, ValidationError):
        raise HTTPException(status_code=404, detail="document not found") from None


@app.get("/api/statistics")
async def get_stats(tenant_id: str = Depends(get_tenant_id)):
    stats = await memory.get_statistics(owner_id=tenant_id)
    return {"document_count": stats.document_count, "chunk_count": stats.chunk_count,
            "total_size_mb": stats.total_size_bytes / 1024 / 1024}


@app.get("/healthz")
async def healthz():
    return {"ready": await memory.ready()}


def _create_key(argv: list[str]) -> None:
    from llmemory import LLMemorySync

    tenant, scope = argv[0], (argv[1] if len(argv) > 1 else "write")
    with LLMemorySync(os.environ.get("LLMEMORY_DATABASE_URL"),
                      schema=os.environ.get("LLMEMORY_SCHEMA")) as m:
        print(m.create_api_key(tenant, scope=scope).key)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "create-key":
        _create_key(sys.argv[2:])
    else:
        print(__doc__)
