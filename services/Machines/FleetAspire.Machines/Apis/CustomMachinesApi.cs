using System.Security.Claims;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Reads;
using FleetAspire.Machines.Application;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Errors;
using FleetAspire.ServiceDefaults.Secrets;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace FleetAspire.Machines.Apis;

public static class CustomMachinesApi
{
    private const int MinSharedKeyLength = 16;

    public static IEndpointRouteBuilder MapCustomMachinesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/machines/custom").WithTags("Custom machines").RequireAuthorization();
        api.MapPost("/", Register).WithName("RegisterCustomMachine").WithSummary("Register a machine the caller owns");
        api.MapGet("/", List).WithName("ListCustomMachines").WithSummary("The caller's custom machines (operators: all)");
        api.MapGet("/{id}", Get).WithName("GetCustomMachine");
        api.MapPatch("/{id}", Update).WithName("UpdateCustomMachine").WithSummary("Change address, port, key or facts; an assigned agent's copies follow");
        api.MapDelete("/{id}", Delete).WithName("DeleteCustomMachine").WithSummary("Delete an unassigned machine");
        api.MapPost("/{id}/assign", Assign).WithName("AssignCustomMachine").WithSummary("Attach the machine to one of the caller's idle agents");
        api.MapPost("/{id}/release", Release).WithName("ReleaseCustomMachine").WithSummary("Detach the machine from its agent");
        return app;
    }

    public static async Task<Results<Created<CustomMachineResponse>, ValidationProblem, ProblemHttpResult>> Register(
        RegisterCustomMachineRequest? request, ClaimsPrincipal caller, CustomMachineService machines, SecretFingerprint fingerprint, CancellationToken cancellationToken)
    {
        var errors = Validate(request?.Ipv4, request?.Port, request?.SharedKey, request?.Os, request?.Arch, request?.CpuCount, request?.MemoryGb, required: true);
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        InputRules.TryNormalizeIpv4(request!.Ipv4, out var ipv4);
        var (outcome, machine) = await machines.RegisterAsync(caller.UserId(), new RegisterCustomMachine(
            ipv4, request.Port ?? Machine.DefaultPort, request.SharedKey!, request.Os, request.Arch, request.CpuCount, request.MemoryGb), cancellationToken);
        return outcome == MachineOutcome.Duplicate
            ? Conflict("Machine already registered", $"You already registered a machine at {ipv4}:{request.Port ?? Machine.DefaultPort}.")
            : TypedResults.Created($"/api/machines/custom/{machine!.Id}", CustomMachineResponse.From(machine, fingerprint));
    }

    public static async Task<Results<Ok<CustomMachinePage>, ValidationProblem>> List(
        ClaimsPrincipal caller, ICustomMachineReads reads, SecretFingerprint fingerprint, [FromQuery] string? after, [FromQuery] int? limit,
        CancellationToken cancellationToken)
    {
        var errors = new FieldErrors().Check("after", InputRules.Cursor(after)).Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var take = limit ?? InputRules.DefaultPageSize;
        var rows = await reads.PageAsync(caller.OwnerFilter(), after, take, cancellationToken);
        var items = rows.Take(take).Select(c => CustomMachineResponse.From(c, fingerprint)).ToList();
        return TypedResults.Ok(new CustomMachinePage(items, rows.Count > take ? items[^1].Id : null));
    }

    public static async Task<Results<Ok<CustomMachineResponse>, ProblemHttpResult>> Get(
        string id, ClaimsPrincipal caller, ICustomMachineReads reads, SecretFingerprint fingerprint, CancellationToken cancellationToken)
    {
        var machine = InputRules.IsPlausibleId(id) ? await reads.FindAsync(id, caller.OwnerFilter(), cancellationToken) : null;
        return machine is null ? MachineNotFound(id) : TypedResults.Ok(CustomMachineResponse.From(machine, fingerprint));
    }

    public static async Task<Results<Ok<CustomMachineResponse>, ValidationProblem, ProblemHttpResult>> Update(
        string id, UpdateCustomMachineRequest? request, ClaimsPrincipal caller, CustomMachineService machines, SecretFingerprint fingerprint, CancellationToken cancellationToken)
    {
        if (!InputRules.IsPlausibleId(id))
        {
            return MachineNotFound(id);
        }

        var errors = request is null
            ? new FieldErrors().Check("body", "is required")
            : Validate(request.Ipv4, request.Port, request.SharedKey, request.Os, request.Arch, request.CpuCount, request.MemoryGb, required: false);
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        string? ipv4 = null;
        if (request!.Ipv4 is not null)
        {
            InputRules.TryNormalizeIpv4(request.Ipv4, out var normalized);
            ipv4 = normalized;
        }

        var (outcome, machine) = await machines.UpdateAsync(caller, id, new UpdateCustomMachine(
            ipv4, request.Port, request.SharedKey, request.Os, request.Arch, request.CpuCount, request.MemoryGb), cancellationToken);
        return outcome switch
        {
            MachineOutcome.Ok => TypedResults.Ok(CustomMachineResponse.From(machine!, fingerprint)),
            MachineOutcome.Duplicate => Conflict("Machine already registered", "Another of your machines has that address and port."),
            _ => MachineNotFound(id),
        };
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string id, ClaimsPrincipal caller, CustomMachineService machines, CancellationToken cancellationToken)
    {
        var outcome = InputRules.IsPlausibleId(id) ? await machines.DeleteAsync(caller, id, cancellationToken) : MachineOutcome.NotFound;
        return outcome switch
        {
            MachineOutcome.Ok => TypedResults.NoContent(),
            MachineOutcome.MachineInUse => Conflict("Machine is assigned", $"Machine '{id}' is assigned to an agent. Release it first."),
            _ => MachineNotFound(id),
        };
    }

    public static async Task<Results<Ok<CustomMachineResponse>, ValidationProblem, ProblemHttpResult>> Assign(
        string id, AssignCustomMachineRequest? request, ClaimsPrincipal caller, CustomMachineService machines, SecretFingerprint fingerprint, CancellationToken cancellationToken)
    {
        if (!InputRules.IsPlausibleId(id))
        {
            return MachineNotFound(id);
        }

        var errors = new FieldErrors().Check("agentId", request?.AgentId is { } a && InputRules.IsPlausibleId(a) ? null : "is required and must be an agent id");
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var (outcome, machine) = await machines.AssignAsync(caller, id, request!.AgentId!, cancellationToken);
        return outcome switch
        {
            MachineOutcome.Ok => TypedResults.Ok(CustomMachineResponse.From(machine!, fingerprint)),
            MachineOutcome.AgentNotFound => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Agent not found",
                detail: $"No agent '{request.AgentId}' of yours exists.", extensions: new Dictionary<string, object?> { ["field"] = "agentId" }),
            MachineOutcome.MachineInUse => Conflict("Machine is assigned", $"Machine '{id}' is already assigned to an agent."),
            MachineOutcome.AgentBusy => Conflict("Agent is not idle", $"Agent '{request.AgentId}' already holds a machine or is being deleted."),
            _ => MachineNotFound(id),
        };
    }

    public static async Task<Results<Ok<CustomMachineResponse>, ProblemHttpResult>> Release(
        string id, ClaimsPrincipal caller, CustomMachineService machines, SecretFingerprint fingerprint, CancellationToken cancellationToken)
    {
        if (!InputRules.IsPlausibleId(id))
        {
            return MachineNotFound(id);
        }

        var (outcome, machine) = await machines.ReleaseAsync(caller, id, cancellationToken);
        return outcome switch
        {
            MachineOutcome.Ok => TypedResults.Ok(CustomMachineResponse.From(machine!, fingerprint)),
            MachineOutcome.NotAssigned => Conflict("Machine is not assigned", $"Machine '{id}' is not assigned to an agent."),
            MachineOutcome.AgentBusy => Conflict("Agent is being deleted", "The machine is released after the agent's final snapshot."),
            _ => MachineNotFound(id),
        };
    }

    private static FieldErrors Validate(string? ipv4, int? port, string? sharedKey, string? os, string? arch, int? cpuCount, int? memoryGb, bool required) =>
        new FieldErrors()
            .Check("ipv4", ipv4 is null ? (required ? "is required" : null) : InputRules.Ipv4(ipv4))
            .Check("port", InputRules.Port(port))
            .Check("sharedKey", sharedKey is null
                ? (required ? "is required" : null)
                : sharedKey.Length is < MinSharedKeyLength or > Limits.SharedKeyLength || sharedKey.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
                    ? $"must be {MinSharedKeyLength} to {Limits.SharedKeyLength} characters without spaces"
                    : null)
            .Check("os", os is null ? null : InputRules.Name(os, 64))
            .Check("arch", arch is null ? null : InputRules.Name(arch, 32))
            .Check("cpuCount", cpuCount is null or (>= 1 and <= 4096) ? null : "must be between 1 and 4096")
            .Check("memoryGb", memoryGb is null or (>= 1 and <= 65536) ? null : "must be between 1 and 65536");

    private static ProblemHttpResult MachineNotFound(string id) => Problems.NotFound("machine", id);

    private static ProblemHttpResult Conflict(string title, string detail) => Problems.Conflict(title, detail);
}
