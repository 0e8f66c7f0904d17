using FleetAspire.Agents.Application;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Errors;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FleetAspire.Agents.Apis;

public static class AgentsApi
{
    public static IEndpointRouteBuilder MapAgentsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/agents").WithTags("Agents").RequireAuthorization();

        api.MapPost("/", CreateAgent).WithName("CreateAgent").WithSummary("Create an agent owned by the caller");
        api.MapGet("/", ListAgents).WithName("ListAgents").WithSummary("List agents (own; operators: all), keyset-paged");
        api.MapGet("/{id}", GetAgent).WithName("GetAgent");
        api.MapDelete("/{id}", DeleteAgent).WithName("DeleteAgent").WithSummary("Delete an agent, releasing its machine");
        api.MapPost("/{id}/claim", ClaimMachine).WithName("ClaimPoolMachine").WithSummary("Claim a ready pool machine");
        api.MapPost("/{id}/release", ReleaseMachine).WithName("ReleaseMachine").WithSummary("Release the agent's machine");
        api.MapGet("/{id}/connection", GetConnectionInfo).WithName("GetConnectionInfo")
            .WithSummary("ipv4, port and sharedKey of the agent's machine; owner only");
        return app;
    }

    public static async Task<Results<Created<AgentResponse>, ValidationProblem>> CreateAgent(
        CreateAgentRequest? request, HttpContext http, AgentService agents, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Check("name", InputRules.Name(request?.Name, Limits.NameLength));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var agent = await agents.CreateAsync(http.User.UserId(), request!.Name!, cancellationToken);
        return TypedResults.Created($"/api/agents/{agent.Id}", AgentResponse.From(agent, null));
    }

    public static async Task<Results<Ok<PageResponse<AgentResponse>>, ValidationProblem>> ListAgents(
        HttpContext http,
        AgentService agents,
        [FromQuery] string? userId,
        [FromQuery] string? machineType,
        [FromQuery] string? after,
        [FromQuery] int? limit,
        CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("machineType", machineType is null or MachineTypes.Hetzner or MachineTypes.Custom ? null : "must be 'hetzner' or 'custom'")
            .Check("userId", userId is null ? null : InputRules.Name(userId, Limits.UserIdLength))
            .Check("after", InputRules.Cursor(after))
            .Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var page = await agents.ListAsync(http.User, userId, machineType, after, limit ?? InputRules.DefaultPageSize, cancellationToken);
        return TypedResults.Ok(page);
    }

    public static async Task<Results<Ok<AgentResponse>, ProblemHttpResult>> GetAgent(
        string id, HttpContext http, AgentService agents, CancellationToken cancellationToken)
    {
        var agent = InputRules.IsPlausibleId(id) ? await agents.FindVisibleAsync(http.User, id, cancellationToken) : null;
        return agent is null ? AgentNotFound(id) : TypedResults.Ok(await agents.ResponseAsync(agent, cancellationToken));
    }

    /// <summary>204 when the agent had no machine; 202 when its final snapshot must be taken first.</summary>
    public static async Task<Results<NoContent, Accepted, ProblemHttpResult>> DeleteAgent(
        string id, HttpContext http, AgentService agents, CancellationToken cancellationToken)
    {
        var outcome = InputRules.IsPlausibleId(id) ? await agents.DeleteAsync(http.User, id, cancellationToken) : DeleteOutcome.NotFound;
        return outcome switch
        {
            DeleteOutcome.Deleted => TypedResults.NoContent(),
            DeleteOutcome.Accepted => TypedResults.Accepted($"/api/agents/{id}"),
            _ => AgentNotFound(id),
        };
    }

    public static async Task<Results<Ok<AgentResponse>, ProblemHttpResult>> ClaimMachine(
        string id, HttpContext http, PoolClaims claims, CancellationToken cancellationToken)
    {
        if (!InputRules.IsPlausibleId(id))
        {
            return AgentNotFound(id);
        }

        var (outcome, agent, machine) = await claims.ClaimAsync(http.User, id, cancellationToken);
        return outcome switch
        {
            ClaimOutcome.Claimed => TypedResults.Ok(AgentResponse.From(agent!, machine)),
            ClaimOutcome.AgentHasMachine => Conflict("Agent already has a machine", $"Agent '{id}' already holds a machine (GET /api/agents/{id} names it). Release it first."),
            ClaimOutcome.PoolEmpty => Conflict("Pool is empty", "No ready pool machine is available. Retry later or raise the pool target."),
            _ => AgentNotFound(id),
        };
    }

    public static async Task<Results<Ok<AgentResponse>, ProblemHttpResult>> ReleaseMachine(
        string id, HttpContext http, PoolClaims claims, CancellationToken cancellationToken)
    {
        if (!InputRules.IsPlausibleId(id))
        {
            return AgentNotFound(id);
        }

        var (outcome, agent) = await claims.ReleaseAsync(http.User, id, cancellationToken);
        return outcome switch
        {
            ReleaseOutcome.Released => TypedResults.Ok(AgentResponse.From(agent!, null)),
            ReleaseOutcome.NoMachine => Conflict("Agent has no machine", $"Agent '{id}' holds no machine to release."),
            ReleaseOutcome.AgentDeleting => Conflict("Agent is being deleted", $"Agent '{id}' is being deleted; its machine is released after the final snapshot."),
            _ => AgentNotFound(id),
        };
    }

    public static async Task<Results<Ok<ConnectionInfoResponse>, ProblemHttpResult>> GetConnectionInfo(
        string id, HttpContext http, PoolClaims claims, CancellationToken cancellationToken)
    {
        if (!InputRules.IsPlausibleId(id))
        {
            return AgentNotFound(id);
        }

        // The one response that carries a sharedKey: no cache (browser, proxy, gateway) may keep a copy of it.
        http.Response.Headers.CacheControl = "no-store";
        var (visible, details) = await claims.ConnectionInfoAsync(http.User, id, cancellationToken);
        return !visible ? AgentNotFound(id)
            : details is null ? Conflict("Agent has no machine", $"Agent '{id}' holds no machine to connect to.")
            : TypedResults.Ok(new ConnectionInfoResponse(details.Ipv4, details.Port, details.SharedKey));
    }

    private static ProblemHttpResult AgentNotFound(string id) => Problems.NotFound("agent", id);

    private static ProblemHttpResult Conflict(string title, string detail) => Problems.Conflict(title, detail);
}
