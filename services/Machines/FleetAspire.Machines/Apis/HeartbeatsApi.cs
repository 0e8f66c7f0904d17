using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FleetAspire.Data;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Reads;
using FleetAspire.Data.Writes;
using FleetAspire.Machines.Application;
using FleetAspire.ServiceDefaults.Auth;
using FleetAspire.ServiceDefaults.Errors;
using FleetAspire.ServiceDefaults.Validation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FleetAspire.Machines.Apis;

/// <summary>
/// Machines push heartbeats (docs/adr/0007). A machine proves who it is with its sharedKey without sending it:
/// <c>X-Fleet-Signature</c> = hex(HMAC-SHA256(sharedKey, "{machineId}\n{timestamp}\n{base64(SHA-256(body))}")).
/// </summary>
public static class HeartbeatsApi
{
    public const string MachineHeader = "X-Fleet-Machine-Id";
    public const string TimestampHeader = "X-Fleet-Timestamp";
    public const string SignatureHeader = "X-Fleet-Signature";
    private const int MaxBodyBytes = 4096;

    public static IEndpointRouteBuilder MapHeartbeatsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/machines").WithTags("Machine health");
        // Machines are not users: no bearer token, their own signature instead.
        api.MapPost("/heartbeats", Heartbeat).AllowAnonymous().WithName("ReportHeartbeat")
            .WithSummary("A machine reports its health, signed with its sharedKey");
        api.MapGet("/health", ListChecks).RequireAuthorization().WithName("ListHealthChecks")
            .WithSummary("Health checks of a machine the caller's agent holds (operators: any)");
        return app;
    }

    public static async Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> Heartbeat(
        HttpRequest http, FleetDbContext db, IAssignmentWrites assignments, HealthRecorder recorder, IOptions<HealthCheckOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var body = await ReadBodyAsync(http, cancellationToken);
        if (body is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"'body' must be at most {MaxBodyBytes} bytes."] });
        }

        var machineId = http.Headers[MachineHeader].ToString();
        var timestamp = http.Headers[TimestampHeader].ToString();
        var signature = http.Headers[SignatureHeader].ToString();
        if (!InputRules.IsPlausibleId(machineId) || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs(time.GetUtcNow().ToUnixTimeSeconds() - seconds) > options.Value.ClockSkew.TotalSeconds)
        {
            return Unauthenticated();
        }

        HeartbeatRequest? request;
        try
        {
            request = JsonSerializer.Deserialize<HeartbeatRequest>(body, JsonSerializerOptions.Web);
        }
        catch (JsonException)
        {
            request = null;
        }

        var errors = new FieldErrors()
            .Check("outcome", request?.Outcome is HealthOutcome.Healthy or HealthOutcome.Unhealthy ? null : "must be 'healthy' or 'unhealthy'")
            .Check("latencyMs", request?.LatencyMs is null or (>= 0 and <= 600_000) ? null : "must be between 0 and 600000");
        // The machine's key as the storage of the current phase holds it (the agent's copy, or the Machine row),
        // and the check written to the same storage, planned together.
        return await db.Database.CreateExecutionStrategy().ExecuteAsync<Results<Accepted, ValidationProblem, ProblemHttpResult>>(async () =>
        {
            var holder = await assignments.HolderAsync(machineId, cancellationToken);
            if (holder is null || !SignatureMatches(holder.SharedKey, machineId, timestamp, body, signature))
            {
                return Unauthenticated();
            }

            if (errors.Any)
            {
                return TypedResults.ValidationProblem(errors.ToDictionary());
            }

            // Released between the holder's read and the check (the machine is no longer the agent's to report on), or a
            // replay of an earlier heartbeat: the same answer as any other unauthenticated one.
            return await recorder.RecordAsync(holder, request!.Outcome!, request.LatencyMs, seconds, cancellationToken) == HealthRecord.Recorded
                ? TypedResults.Accepted((string?)null)
                : Unauthenticated();
        });
    }

    public static async Task<Results<Ok<IReadOnlyList<HealthCheckResponse>>, ValidationProblem, ProblemHttpResult>> ListChecks(
        HttpContext http, FleetDbContext db, IMachineChildReads reads, ICustomMachineReads customMachines,
        IAssignmentWrites assignments, [FromQuery] string? machineId, [FromQuery] int? limit, CancellationToken cancellationToken)
    {
        var errors = new FieldErrors()
            .Check("machineId", machineId is not null && InputRules.IsPlausibleId(machineId) ? null : "is required and must be a machine id")
            .Check("limit", InputRules.PageSize(limit));
        if (errors.Any)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var userId = http.User.IsOperator() ? null : http.User.UserId();
        var checks = (await reads.HealthChecksAsync(machineId!, userId, limit ?? InputRules.DefaultPageSize, cancellationToken))
            .Select(h => new HealthCheckResponse(h.Id, h.AgentId, h.MachineId, h.Outcome, h.LatencyMs, h.CheckedAt))
            .ToList();
        // Another user's machine is invisible, as everywhere: 404, not an empty list that says it exists. Visible are the
        // machines the caller's agents have checks of, hold now, or the caller registered.
        if (userId is not null && checks.Count == 0 && !await VisibleAsync(db, customMachines, assignments, machineId!, userId, cancellationToken))
        {
            return Problems.NotFound("machine", machineId!);
        }

        return TypedResults.Ok<IReadOnlyList<HealthCheckResponse>>(checks);
    }

    private static async Task<bool> VisibleAsync(FleetDbContext db, ICustomMachineReads customMachines, IAssignmentWrites assignments,
        string machineId, string userId, CancellationToken cancellationToken)
    {
        if (await customMachines.FindAsync(machineId, userId, cancellationToken) is not null)
        {
            return true;
        }

        var holder = await assignments.HolderAsync(machineId, cancellationToken);
        return holder is not null && await db.Agents.AnyAsync(a => a.Id == holder.AgentId && a.UserId == userId, cancellationToken);
    }

    /// <summary>What a machine computes to sign a heartbeat. Public so machine agents and tests sign the same way.</summary>
    public static string Sign(string sharedKey, string machineId, string timestamp, ReadOnlySpan<byte> body)
    {
        var payload = $"{machineId}\n{timestamp}\n{Convert.ToBase64String(SHA256.HashData(body))}";
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(sharedKey), Encoding.UTF8.GetBytes(payload)));
    }

    private static bool SignatureMatches(string sharedKey, string machineId, string timestamp, byte[] body, string signature)
    {
        var expected = Encoding.ASCII.GetBytes(Sign(sharedKey, machineId, timestamp, body));
        var actual = Encoding.ASCII.GetBytes(signature);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest http, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[1024];
        int read;
        while ((read = await http.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>One answer for unknown machine, stale timestamp and bad signature: nothing to learn from it.</summary>
    private static ProblemHttpResult Unauthenticated() =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Heartbeat not authenticated",
            detail: $"Send {MachineHeader}, a current {TimestampHeader} (Unix seconds, later than the machine's last heartbeat) and " +
                    $"{SignatureHeader} signed with the machine's sharedKey.");
}
