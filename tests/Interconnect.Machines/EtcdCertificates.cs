namespace Interconnect.Machines;

/// <summary>
/// A certificate authority of a test's own and what it signed, made with openssl in a folder of the test's: etcd's
/// server certificate (for one IP address, the one etcd listens on), the machines' client certificate (common name
/// <see cref="ClientUser"/>) and an administrator's (<c>root</c>, for etcd's auth), each with its key (mode 0600); more
/// clients on demand (<see cref="MakeClient"/>). What an operator makes for an etcd with <c>--client-cert-auth</c>;
/// disposing removes the folder.
/// </summary>
public sealed class EtcdCertificates : IDisposable
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    private EtcdCertificates(string folder) => Folder = folder;

    /// <summary>The folder holding every file.</summary>
    public string Folder { get; }

    /// <summary>The CA's certificate: etcd's <c>--trusted-ca-file</c>, a client's <c>--etcd-ca</c>.</summary>
    public string CaFile => Path.Combine(Folder, "ca.crt");

    /// <summary>etcd's certificate (<c>--cert-file</c>), for the address given at <see cref="Make"/>.</summary>
    public string ServerCertFile => Path.Combine(Folder, "server.crt");

    /// <summary>etcd's key (<c>--key-file</c>).</summary>
    public string ServerKeyFile => Path.Combine(Folder, "server.key");

    /// <summary>A client certificate (<c>--etcd-cert</c>).</summary>
    public string ClientCertFile => Path.Combine(Folder, "client.crt");

    /// <summary>Its key (<c>--etcd-key</c>), mode 0600.</summary>
    public string ClientKeyFile => Path.Combine(Folder, "client.key");

    /// <summary>
    /// The common name of <see cref="ClientCertFile"/>: with etcd's auth enabled, the etcd user the machines act as.
    /// </summary>
    public const string ClientUser = "imc-client";

    /// <summary>The administrator's certificate (common name <c>root</c>: etcd's root user once auth is enabled).</summary>
    public string RootCertFile => Path.Combine(Folder, "root.crt");

    /// <summary>Its key, mode 0600.</summary>
    public string RootKeyFile => Path.Combine(Folder, "root.key");

    /// <summary>The variables that give a process these client files (<c>IMC_ETCD_CA</c>, <c>IMC_ETCD_CERT</c>, <c>IMC_ETCD_KEY</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["IMC_ETCD_CA"] = CaFile,
        ["IMC_ETCD_CERT"] = ClientCertFile,
        ["IMC_ETCD_KEY"] = ClientKeyFile,
    };

    /// <summary>The arguments that make etcd serve TLS with these files and require a client certificate of this CA.</summary>
    public IEnumerable<string> EtcdArguments =>
    [
        "--client-cert-auth", "--trusted-ca-file", CaFile, "--cert-file", ServerCertFile, "--key-file", ServerKeyFile,
    ];

    /// <summary>
    /// Makes a CA named <paramref name="name"/> in a new folder under <paramref name="parent"/> (the system's temporary
    /// folder when null), a server certificate for <paramref name="serverAddress"/> and a client certificate.
    /// </summary>
    public static EtcdCertificates Make(string serverAddress, string name = "imc test CA", string? parent = null)
    {
        var folder = parent is null
            ? System.IO.Directory.CreateTempSubdirectory("imc-certs-").FullName
            : System.IO.Directory.CreateDirectory(Path.Combine(parent, "certs")).FullName;
        var certificates = new EtcdCertificates(folder);
        try
        {
            File.WriteAllText(Path.Combine(folder, "server.ext"),
                $"subjectAltName=IP:{serverAddress}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
            File.WriteAllText(Path.Combine(folder, "client.ext"), "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n");
            // EC keys: made at once, where RSA keys would take a while on a loaded machine.
            Openssl(folder,
                $"""
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 \
                  -subj '/CN={name}' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>&1
                chmod 600 ca.key
                {Sign("server", "imc-server", "server.ext")}
                {Sign("client", ClientUser, "client.ext")}
                {Sign("root", "root", "client.ext")}
                """);
            return certificates;
        }
        catch
        {
            certificates.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Makes another client certificate of this CA, with the common name <paramref name="user"/> (etcd's user for it
    /// once auth is enabled), and returns its files.
    /// </summary>
    public (string CertFile, string KeyFile) MakeClient(string user)
    {
        Openssl(Folder, Sign(user, user, "client.ext"));
        return (Path.Combine(Folder, user + ".crt"), Path.Combine(Folder, user + ".key"));
    }

    /// <summary>The commands that sign a certificate in <paramref name="file"/>.crt for <paramref name="commonName"/>, its key mode 0600.</summary>
    private static string Sign(string file, string commonName, string extensions) =>
        $"""
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {file}.key -out {file}.csr -subj '/CN={commonName}' 2>&1
        openssl x509 -req -in {file}.csr -CA ca.crt -CAkey ca.key -set_serial 0x$(openssl rand -hex 8) -days 2 -extfile {extensions} -out {file}.crt 2>&1
        chmod 600 {file}.key
        """;

    private static void Openssl(string folder, string script)
    {
        var made = HostCommand.Run("sh", ["-ec", $"cd '{folder}'\n{script}"], s_deadline);
        if (made.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl could not make the test's certificates in {folder}: {made.Stdout}{made.Stderr}");
        }
    }

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Folder))
        {
            System.IO.Directory.Delete(Folder, recursive: true);
        }
    }
}
