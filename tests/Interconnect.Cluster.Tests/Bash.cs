using Interconnect.Machines;

namespace Interconnect.Cluster.Tests;

/// <summary>
/// Talking TCP and HTTP from inside a machine with bash alone (<c>/dev/tcp</c>): curl, nc and python may be missing on
/// a fresh machine, bash is not.
/// </summary>
internal static class Bash
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Connects to ADDRESS:PORT and prints the first line the other side sends.</summary>
    public static (int ExitCode, string Stdout, string Stderr) ReadLine(SimulatedMachine machine, string address, int port) =>
        machine.Run("bash", ["-c", "exec 3<>/dev/tcp/$1/$2 && read -r line <&3 && echo \"$line\"", "_", address, port.ToString()], Timeout);

    /// <summary>
    /// One HTTP/1.0 request (the server closes the connection after its answer, so reading to the end is the whole
    /// answer); a body is sent as JSON. Exit code non-zero when the connection failed.
    /// </summary>
    public static (int ExitCode, string Stdout, string Stderr) Http(SimulatedMachine machine, string url, string method, string path,
        string body = "")
    {
        var authority = new Uri(url);
        const string Script = """
            exec 3<>/dev/tcp/$1/$2 || exit 7
            printf '%s %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "$3" "$4" "$1" "${#5}" "$5" >&3
            cat <&3
            """;
        return machine.Run("bash", ["-c", Script, "_", authority.Host, authority.Port.ToString(), method, path, body], Timeout);
    }
}
