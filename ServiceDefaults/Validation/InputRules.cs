using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace FleetAspire.ServiceDefaults.Validation;

/// <summary>
/// Field rules every API shares. Each returns an error message or null; endpoints collect them into one
/// ValidationProblem so the client learns every bad field at once.
/// </summary>
public static class InputRules
{
    public const int MaxIdLength = 64;
    public const int MaxPageSize = 100;
    public const int DefaultPageSize = 25;

    public static string? Name(string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return "is required";
        }

        if (value.Length > maxLength)
        {
            return $"must be at most {maxLength} characters";
        }

        return value.Any(char.IsControl) ? "must not contain control characters" : null;
    }

    /// <summary>Strict dotted-quad IPv4 (no octal, hex, shortened or padded forms that parsers disagree on).</summary>
    public static string? Ipv4(string? value) => TryNormalizeIpv4(value, out _) ? null : "must be an IPv4 address like 203.0.113.7";

    public static bool TryNormalizeIpv4(string? value, out string normalized)
    {
        normalized = string.Empty;
        if (value is null || value.Length is < 7 or > 15)
        {
            return false;
        }

        var parts = value.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        foreach (var part in parts)
        {
            if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit) || (part.Length > 1 && part[0] == '0')
                || int.Parse(part, CultureInfo.InvariantCulture) > 255)
            {
                return false;
            }
        }

        if (!IPAddress.TryParse(value, out var address) || address.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }

        normalized = address.ToString();
        return true;
    }

    public static string? Port(int? value) => value is null or (>= 1 and <= 65535) ? null : "must be between 1 and 65535";

    public static string? PageSize(int? value) =>
        value is null or (>= 1 and <= MaxPageSize) ? null : $"must be between 1 and {MaxPageSize}";

    public static string? Cursor(string? value) =>
        value is null || (value.Length <= MaxIdLength && value.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            ? null
            : "is not a cursor this API issued";

    /// <summary>Route ids: anything longer or stranger than our ids cannot name a row, so it is a 404 without a query.</summary>
    public static bool IsPlausibleId(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= MaxIdLength && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}
