using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;

namespace FleetAspire.AppHost;

internal static class MigrationCommands
{
    /// <summary>
    /// Dashboard buttons for the control API. It is operator-only, so each command carries a one-minute operator token
    /// minted from the signing key the AppHost already hands to the services.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithMigrationCommands(
        this IResourceBuilder<ProjectResource> migration, IResourceBuilder<ParameterResource> signingKey)
    {
        (string Path, string Name, string Description)[] commands =
        [
            ("/api/migration/backfill/start", "Start backfill", "Copy the legacy model into Machine from the beginning"),
            ("/api/migration/backfill/pause", "Pause backfill", "Stop after the current batch"),
            ("/api/migration/backfill/resume", "Resume backfill", "Continue from the last checkpoint"),
            ("/api/migration/verify", "Verify", "Compare legacy and Machine now"),
        ];
        foreach (var (path, name, description) in commands)
        {
            migration.WithHttpCommand(path, name, commandOptions: new HttpCommandOptions
            {
                Description = description,
                Method = HttpMethod.Post,
                PrepareRequest = async context =>
                {
                    var key = await signingKey.Resource.GetValueAsync(context.CancellationToken)
                              ?? throw new InvalidOperationException("The signing key parameter has no value.");
                    context.Request.Headers.Authorization = new("Bearer", FleetTokens.Create(key, "aspire-dashboard", AuthNames.OperatorRole, TimeSpan.FromMinutes(1)));
                },
            });
        }

        return migration;
    }
}
