using System.Net.Http;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;

namespace Interconnect.Driver.Directory.Etcd;

/// <summary>
/// How this process reaches etcd: its client URLs and, for an etcd that serves <c>https://</c> and requires a client
/// certificate (<c>--client-cert-auth</c>), the three files of mutual TLS: the CA that signed etcd's certificate (the
/// only root trusted for it), this machine's client certificate, and its key. Checked whole when made, each fault in one
/// line that names the option and the file; the files are read then, once, and every gRPC channel to etcd
/// (<see cref="EtcdStore"/>'s and <see cref="EtcdStreams"/>') is configured from here.
/// </summary>
/// <remarks>
/// imcd takes the files from <c>--etcd-ca</c>, <c>--etcd-cert</c>, <c>--etcd-key</c>, else from <c>IMC_ETCD_CA</c>,
/// <c>IMC_ETCD_CERT</c>, <c>IMC_ETCD_KEY</c>. Processes read the same variables (<see cref="FromEnvironment"/>) while
/// they still hold a directory client of their own (<see cref="EtcdDirectory"/>): until they reach etcd only through
/// their machine's imcd (API.md, "Security across machines"), a process against an etcd that requires client
/// certificates needs them too, and with them read access to the key.
/// </remarks>
internal sealed class EtcdConnection
{
    public const string CaVariable = "IMC_ETCD_CA";
    public const string CertVariable = "IMC_ETCD_CERT";
    public const string KeyVariable = "IMC_ETCD_KEY";

    // The group and others bits: a key another user can read is a key another user holds.
    private const UnixFileMode NotOwner = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly X509Certificate2Collection? _roots;
    private readonly X509Certificate2? _client;

    private EtcdConnection(string endpoints, string? caFile, string? certFile, string? keyFile,
        X509Certificate2Collection? roots, X509Certificate2? client)
    {
        Endpoints = endpoints;
        CaFile = caFile;
        CertFile = certFile;
        KeyFile = keyFile;
        _roots = roots;
        _client = client;
    }

    /// <summary>etcd's client URLs, comma-separated, as given.</summary>
    public string Endpoints { get; }

    public string? CaFile { get; }

    public string? CertFile { get; }

    public string? KeyFile { get; }

    /// <summary>True for an <c>https://</c> directory: mutual TLS with <see cref="CaFile"/>, <see cref="CertFile"/>, <see cref="KeyFile"/>.</summary>
    public bool IsTls => _client is not null;

    /// <summary>
    /// The common name of the client certificate: with etcd's auth enabled, the etcd user this machine acts as, whose
    /// roles say which keys it may read and write. Null without TLS.
    /// </summary>
    public string? User => _client?.GetNameInfo(X509NameType.SimpleName, forIssuer: false);

    /// <summary>The endpoints, split and trimmed.</summary>
    public IEnumerable<string> EachEndpoint => Endpoints.Split(',').Select(e => e.Trim());

    /// <summary>
    /// <paramref name="endpoints"/> with each TLS file given, else the one its variable names (<c>IMC_ETCD_CA</c>,
    /// <c>IMC_ETCD_CERT</c>, <c>IMC_ETCD_KEY</c>); checked as <see cref="Create"/> does.
    /// </summary>
    public static EtcdConnection FromEnvironment(string? endpoints, string? caFile = null, string? certFile = null, string? keyFile = null) =>
        Create(endpoints, caFile ?? Variable(CaVariable), certFile ?? Variable(CertVariable), keyFile ?? Variable(KeyVariable));

    /// <summary>
    /// Checks <paramref name="endpoints"/> and the files and reads the files: throws <see cref="DriverException"/> in one
    /// line on the first fault (<see cref="DriverStatus.BadParameter"/> for what was given,
    /// <see cref="DriverStatus.OpenError"/> for a file that cannot be used).
    /// </summary>
    public static EtcdConnection Create(string? endpoints, string? caFile, string? certFile, string? keyFile)
    {
        if (string.IsNullOrWhiteSpace(endpoints))
        {
            throw new DriverException(DriverStatus.BadParameter,
                "IMC_DIRECTORY is empty: set it to etcd's client URLs, such as http://10.0.0.1:2379");
        }

        var schemes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints.Split(','))
        {
            if (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                throw new DriverException(DriverStatus.BadParameter,
                    $"IMC_DIRECTORY holds '{ClusterPaths.Printable(endpoint)}', not an etcd client URL: use http://HOST:PORT[,...] " +
                    "(https:// for an etcd that requires client certificates)");
            }

            schemes.Add(uri.Scheme);
        }

        if (schemes.Count > 1)
        {
            throw new DriverException(DriverStatus.BadParameter,
                $"IMC_DIRECTORY mixes http:// and https:// endpoints ({ClusterPaths.Printable(endpoints)}): give every etcd member " +
                "with the scheme it serves, all https:// for TLS");
        }

        (string Option, string Variable, string? File)[] files =
        [
            ("--etcd-ca", CaVariable, caFile), ("--etcd-cert", CertVariable, certFile), ("--etcd-key", KeyVariable, keyFile),
        ];
        if (!schemes.Contains("https"))
        {
            if (files.FirstOrDefault(f => f.File is not null) is { File: not null } given)
            {
                throw new DriverException(DriverStatus.BadParameter,
                    $"{given.Option} ({given.Variable}) is given but the directory {ClusterPaths.Printable(endpoints)} is not TLS: " +
                    "use https:// endpoints for an etcd that requires client certificates, or give no certificate files");
            }

            return new EtcdConnection(endpoints, null, null, null, null, null);
        }

        var missing = files.Where(f => f.File is null).Select(f => $"{f.Option} FILE ({f.Variable})").ToList();
        if (missing.Count > 0)
        {
            throw new DriverException(DriverStatus.BadParameter,
                $"the directory {ClusterPaths.Printable(endpoints)} is https:// (etcd with client certificates) but " +
                $"{string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} missing: give etcd's CA, this machine's " +
                "client certificate and its key");
        }

        foreach (var (option, variable, file) in files)
        {
            CheckReadable(option, variable, file!);
        }

        CheckPrivate(keyFile!);
        return new EtcdConnection(endpoints, caFile, certFile, keyFile, ReadRoots(caFile!), ReadClient(certFile!, keyFile!));
    }

    /// <summary>
    /// Makes <paramref name="options"/> speak TLS with this connection's files: etcd's certificate must chain to the CA
    /// file (the system's roots are not consulted) and name the address dialled; the client certificate goes with every
    /// connection. Nothing changes for an <c>http://</c> directory.
    /// </summary>
    public void Configure(GrpcChannelOptions options)
    {
        if (!IsTls)
        {
            return;
        }

        options.HttpHandler = new SocketsHttpHandler
        {
            // As gRPC's own handler (calls beyond one connection's stream limit open another) and dotnet-etcd's (a
            // ping keeps an idle connection known to be alive).
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [_client!],
                RemoteCertificateValidationCallback = TrustsServer,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            },
        };
        options.DisposeHttpClient = true;
        options.Credentials = ChannelCredentials.SecureSsl;
    }

    /// <summary>True when an answer of etcd failed because TLS did: a certificate refused, by etcd or by this process.</summary>
    public static bool IsTlsFailure(Exception? failure)
    {
        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException or HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when a failure came from a connection that was made and then ended before HTTP/2 started (no socket error
    /// under it), not from one that could not be made.
    /// </summary>
    public static bool EndedAfterConnecting(Exception? failure)
    {
        var ended = false;
        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (e is System.Net.Sockets.SocketException)
            {
                return false;
            }

            // The connection ended in HTTP/2's start: an I/O failure, or HTTP/2 saying the server did not complete it (an
            // HttpRequestException of no other kind than a failed connection, which has a socket error under it).
            ended |= e is IOException or HttpRequestException
            {
                HttpRequestError: not (HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.ProxyTunnelError),
            };
        }

        return ended;
    }

    /// <summary>
    /// etcd's certificate, checked against the CA file alone: the name it was issued for must match the address dialled
    /// (the platform's check), and its chain must end at one of the CA file's certificates, whatever the system trusts.
    /// </summary>
    private bool TrustsServer(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false; // no certificate, or one issued for another name
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_roots!);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1")); // serverAuth: a certificate for a server
        if (chain is not null)
        {
            // Intermediates etcd sent (the platform's chain holds them): the path from etcd's certificate to the CA.
            foreach (var element in chain.ChainElements.Skip(1))
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(server);
    }

    private static string? Variable(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    private static void CheckReadable(string option, string variable, string file)
    {
        var what = $"{option} ({variable}) {file}";
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DriverException(DriverStatus.OpenError, $"{what} does not exist: give the path of the file");
        }
        catch (UnauthorizedAccessException)
        {
            throw new DriverException(DriverStatus.OpenError,
                $"{what} cannot be read by this process (user {Environment.UserName}): run it as the file's owner, or give a file it may read");
        }
        catch (IOException e)
        {
            throw new DriverException(DriverStatus.OpenError, $"{what} cannot be read: {e.Message}");
        }
    }

    /// <summary>Refuses a key that anyone but its owner may read, as ssh does: the key is the machine's identity to etcd.</summary>
    private static void CheckPrivate(string keyFile)
    {
        var mode = File.GetUnixFileMode(keyFile);
        if ((mode & NotOwner) != 0)
        {
            throw new DriverException(DriverStatus.OpenError,
                $"--etcd-key ({KeyVariable}) {keyFile} may be read or written by other users (mode " +
                $"{Convert.ToString((int)mode & 0x1FF, 8)}): chmod 600 {keyFile}");
        }
    }

    private static X509Certificate2Collection ReadRoots(string caFile)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(caFile);
        }
        catch (CryptographicException e)
        {
            throw new DriverException(DriverStatus.OpenError,
                $"--etcd-ca ({CaVariable}) {caFile} is not a PEM certificate: {e.Message}; give the CA that signed etcd's certificate");
        }

        return roots.Count > 0
            ? roots
            : throw new DriverException(DriverStatus.OpenError,
                $"--etcd-ca ({CaVariable}) {caFile} holds no PEM certificate: give the CA that signed etcd's certificate");
    }

    private static X509Certificate2 ReadClient(string certFile, string keyFile)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException) // ArgumentException: a key of another certificate
        {
            throw new DriverException(DriverStatus.OpenError,
                $"--etcd-cert ({CertVariable}) {certFile} with --etcd-key ({KeyVariable}) {keyFile} is not a PEM certificate " +
                $"and its unencrypted key: {e.Message}");
        }
    }
}
