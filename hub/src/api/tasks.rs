//! Tasks: create, list, view, edit, dependencies, assignment, completion, help, plans, notes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use orchestratia_proto::api::{
    AddDependency, AskHelp, AssignTask, CompleteTask, CreateTask, ErrorBody, Explanation, FailTask,
    RejectPlan, RemoveDependency, SubmitPlan, TaskFilter, UpdateTask,
};
use orchestratia_proto::{Intervention, Note, Plan, Task, TaskStatus, TaskView};

use super::extract::{ApiJson, ApiQuery, Auth};
use crate::bad;
use crate::error::HubError;
use crate::service::{Hub, TaskQuery};

type Answer<T> = Result<Json<T>, HubError>;
type Created<T> = Result<(StatusCode, Json<T>), HubError>;

/// Creates a task; `depends_on` entries become `blocks` dependencies.
#[utoipa::path(post, path = "/tasks", tag = "tasks", request_body = CreateTask,
    responses((status = 201, body = Task), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CreateTask>,
) -> Created<Task> {
    Ok((StatusCode::CREATED, Json(hub.create_task(&p, &b).await?)))
}

/// Lists tasks, filtered by status (comma-separated; `blocked` too), project and server.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(TaskFilter),
    responses((status = 200, body = Vec<Task>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(hub): State<Hub>,
    Auth(p): Auth,
    ApiQuery(f): ApiQuery<TaskFilter>,
) -> Answer<Vec<Task>> {
    Ok(Json(hub.list_tasks(&p, &task_query(f)?).await?))
}

/// The service's query from the words of `GET /tasks`: `status` is one status or several
/// separated by commas, where `blocked` asks for blocked pending tasks.
fn task_query(f: TaskFilter) -> Result<TaskQuery, HubError> {
    let mut want_blocked = false;
    let mut statuses: Vec<TaskStatus> = Vec::new();
    if let Some(s) = f.status.as_deref().filter(|s| !s.trim().is_empty()) {
        for word in s.split(',').map(str::trim) {
            if word == "blocked" {
                want_blocked = true;
                statuses.push(TaskStatus::Pending);
            } else {
                statuses.push(
                    word.parse::<TaskStatus>()
                        .map_err(|e| bad!("{e}, blocked"))?,
                );
            }
        }
    }
    let explicit_pending = f
        .status
        .as_deref()
        .is_some_and(|s| s.split(',').any(|w| w.trim() == "pending"));
    Ok(TaskQuery {
        statuses,
        blocked_only: want_blocked && !explicit_pending,
        project: f.project,
        server: f.server,
    })
}

/// A task with dependencies, inputs, contracts, sessions and its timeline.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = String, Path, description = "UUID, unique prefix, or T7")),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
pub async fn view(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Answer<TaskView> {
    Ok(Json(hub.view_task(&p, &id).await?))
}

/// Edits an open task.
#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", request_body = UpdateTask, params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UpdateTask>,
) -> Answer<Task> {
    Ok(Json(hub.update_task(&p, &id, &b).await?))
}

/// Adds a dependency (`blocks`, or `input` with a contract key); refuses cycles and duplicates.
#[utoipa::path(post, path = "/tasks/{id}/dependencies", tag = "tasks", request_body = AddDependency, params(("id" = String, Path)),
    responses((status = 200, body = TaskView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_dependency(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AddDependency>,
) -> Answer<TaskView> {
    Ok(Json(hub.add_dependency(&p, &id, &b).await?))
}

/// Removes dependencies on one upstream.
#[utoipa::path(post, path = "/tasks/{id}/dependencies/remove", tag = "tasks", request_body = RemoveDependency, params(("id" = String, Path)),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
pub async fn remove_dependency(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RemoveDependency>,
) -> Answer<TaskView> {
    Ok(Json(hub.remove_dependency(&p, &id, &b).await?))
}

/// Assigns a task to a server by name (`session`); a session starts there.
#[utoipa::path(post, path = "/tasks/{id}/assign", tag = "tasks", request_body = AssignTask, params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 409, body = ErrorBody)))]
pub async fn assign(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AssignTask>,
) -> Answer<Task> {
    let server = b
        .session
        .or(b.server)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad!("name the server: {{\"session\": \"dev-backend\"}}"))?;
    Ok(Json(hub.assign_task(&p, &id, &server).await?))
}

/// Every candidate server with its score or the reason it is disqualified.
#[utoipa::path(get, path = "/tasks/{id}/explain", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = Explanation), (status = 404, body = ErrorBody)))]
pub async fn explain(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Answer<Explanation> {
    Ok(Json(hub.explain(&p, &id).await?))
}

/// Completes a task with its result and contracts; the cascade runs in the same transaction.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks", request_body = CompleteTask, params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn complete(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CompleteTask>,
) -> Answer<Task> {
    Ok(Json(hub.complete_task(&p, &id, &b).await?))
}

/// Fails a task with a reason.
#[utoipa::path(post, path = "/tasks/{id}/fail", tag = "tasks", request_body = FailTask, params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 409, body = ErrorBody)))]
pub async fn fail(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FailTask>,
) -> Answer<Task> {
    Ok(Json(hub.fail_task(&p, &id, &b.reason).await?))
}

/// Cancels a task and stops its sessions.
#[utoipa::path(post, path = "/tasks/{id}/cancel", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 409, body = ErrorBody)))]
pub async fn cancel(State(hub): State<Hub>, Auth(p): Auth, Path(id): Path<String>) -> Answer<Task> {
    Ok(Json(hub.cancel_task(&p, &id).await?))
}

/// Puts a failed or cancelled task back to pending (and reassigns it when nothing blocks it).
#[utoipa::path(post, path = "/tasks/{id}/retry", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 409, body = ErrorBody)))]
pub async fn retry(State(hub): State<Hub>, Auth(p): Auth, Path(id): Path<String>) -> Answer<Task> {
    Ok(Json(hub.retry_task(&p, &id).await?))
}

/// An agent asks a human; the task becomes needs_human. Poll `GET /interventions/{id}?wait=`.
#[utoipa::path(post, path = "/tasks/{id}/help", tag = "humans", request_body = AskHelp, params(("id" = String, Path)),
    responses((status = 201, body = Intervention), (status = 409, body = ErrorBody)))]
pub async fn help(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AskHelp>,
) -> Created<Intervention> {
    Ok((
        StatusCode::CREATED,
        Json(hub.ask_help(&p, &id, &b.question).await?),
    ))
}

/// An agent submits a plan. Poll `GET /plans/{id}?wait=` for the decision.
#[utoipa::path(post, path = "/tasks/{id}/plan", tag = "humans", request_body = SubmitPlan, params(("id" = String, Path)),
    responses((status = 201, body = Plan), (status = 409, body = ErrorBody)))]
pub async fn submit_plan(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SubmitPlan>,
) -> Created<Plan> {
    Ok((
        StatusCode::CREATED,
        Json(hub.submit_plan(&p, &id, &b.content).await?),
    ))
}

/// Approves the plan waiting on a task.
#[utoipa::path(post, path = "/tasks/{id}/plan/approve", tag = "humans", params(("id" = String, Path)),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody)))]
pub async fn approve_plan(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Answer<Plan> {
    Ok(Json(hub.decide_plan(&p, &id, true, None).await?))
}

/// Rejects the plan waiting on a task, with feedback.
#[utoipa::path(post, path = "/tasks/{id}/plan/reject", tag = "humans", request_body = RejectPlan, params(("id" = String, Path)),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody)))]
pub async fn reject_plan(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RejectPlan>,
) -> Answer<Plan> {
    Ok(Json(
        hub.decide_plan(&p, &id, false, Some(&b.feedback)).await?,
    ))
}

/// Posts a note on a task.
#[utoipa::path(post, path = "/tasks/{id}/notes", tag = "tasks", request_body = orchestratia_proto::api::AddNote, params(("id" = String, Path)),
    responses((status = 201, body = Note), (status = 404, body = ErrorBody)))]
pub async fn note(
    State(hub): State<Hub>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<orchestratia_proto::api::AddNote>,
) -> Created<Note> {
    Ok((
        StatusCode::CREATED,
        Json(hub.add_note(&p, &id, &b.text).await?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(status: &str) -> Result<TaskQuery, HubError> {
        task_query(TaskFilter {
            status: Some(status.into()),
            project: Some("P".into()),
            server: None,
        })
    }

    #[test]
    fn status_words_become_statuses() {
        let q = query("running, done").unwrap();
        assert_eq!(q.statuses, [TaskStatus::Running, TaskStatus::Done]);
        assert!(!q.blocked_only);
        assert_eq!(q.project.as_deref(), Some("P"));
        let all = query(" ").unwrap();
        assert!(all.statuses.is_empty() && !all.blocked_only);
    }

    #[test]
    fn blocked_shows_pending_tasks_only_when_blocked_unless_pending_is_asked_too() {
        let q = query("blocked,failed").unwrap();
        assert_eq!(q.statuses, [TaskStatus::Pending, TaskStatus::Failed]);
        assert!(q.blocked_only);
        assert!(!query("blocked,pending").unwrap().blocked_only);
    }

    #[test]
    fn an_unknown_word_is_a_bad_request_that_lists_blocked_too() {
        match query("runing") {
            Err(HubError::BadRequest(m)) => {
                assert!(m.contains("invalid status 'runing'"), "{m}");
                assert!(m.ends_with(", blocked"), "{m}");
            }
            other => panic!("expected a bad request, got {other:?}"),
        }
    }
}
