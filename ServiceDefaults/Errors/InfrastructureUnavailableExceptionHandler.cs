using System.Net.Sockets;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace FleetAspire.ServiceDefaults.Errors;

/// <summary>
/// Turns "the database or the broker is not there" into 503 with Retry-After, so clients back off instead of
/// treating an outage as a bug (500).
/// </summary>
public sealed partial class InfrastructureUnavailableExceptionHandler(
    IProblemDetailsService problemDetails,
    ILogger<InfrastructureUnavailableExceptionHandler> logger) : IExceptionHandler
{
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsInfrastructureOutage(exception))
        {
            return false;
        }

        LogOutage(logger, exception.GetType().Name);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "A dependency is unavailable",
                Detail = "A dependency (database, message broker or cloud provider) cannot be reached. Retry later.",
            },
        });
    }

    /// <summary>Walks the exception chain for the failure shapes of an unreachable PostgreSQL or RabbitMQ.</summary>
    public static bool IsInfrastructureOutage(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg when IsOutageSqlState(pg.SqlState):
                    return true;
                case PostgresException:
                    return false;
                case NpgsqlException:
                case SocketException:
                case TimeoutException:
                // The cloud provider's client: unreachable, rate-limited or failing (its refusals are not this type).
                case HttpRequestException:
                    return true;
            }

            // The broker client types are matched by name so that services without a broker need no reference; so are
            // Polly's answers for the cloud provider's client (its timeout, its open circuit): a provider that does not
            // answer in time is unavailable, not a bug.
            for (var type = e.GetType(); type is not null && type != typeof(Exception); type = type.BaseType)
            {
                var name = type.FullName ?? string.Empty;
                if (name.StartsWith("RabbitMQ.Client.Exceptions.", StringComparison.Ordinal)
                    || name is "MassTransit.RabbitMqConnectionException" or "MassTransit.RequestTimeoutException"
                        or "Polly.Timeout.TimeoutRejectedException" or "Polly.CircuitBreaker.BrokenCircuitException")
                {
                    return true;
                }
            }
        }

        return false;
    }

    // Class 08 (connection exception), 57P0x (server shutting down, starting, database dropped), class 53
    // (insufficient resources: disk full, out of memory, too many connections), 25006 (a read-only server: a replica
    // or a failover in progress), 57014 (a statement cancelled by its timeout); and contention the database resolved by
    // aborting this transaction (deadlock victim, serialization failure, a lock not granted in time): nothing was
    // written, the same request succeeds when retried.
    public static bool IsOutageSqlState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState.StartsWith("53", StringComparison.Ordinal)
        || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            or PostgresErrorCodes.DatabaseDropped or PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.ReadOnlySqlTransaction
            or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.LockNotAvailable;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dependency unavailable ({ExceptionType}); answering 503")]
    private static partial void LogOutage(ILogger logger, string exceptionType);
}
