namespace FleetAspire.Cloud;

/// <summary>The provider answered with an error that retrying will not fix (bad token, bad request).</summary>
public sealed class CloudProviderException(string message, int? statusCode = null, string? code = null) : Exception(message)
{
    public int? StatusCode { get; } = statusCode;
    public string? Code { get; } = code;
}
