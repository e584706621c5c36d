from fastapi import APIRouter

from app.accounts.deps import CurrentUser
from app.accounts.schemas import UserOut

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/me")
async def me(user: CurrentUser) -> UserOut:
    """Who the credentials belong to: a quick check that a token works."""
    return UserOut.model_validate(user)
