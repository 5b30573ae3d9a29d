# The end-to-end VM: a tiny guest built from Debian packages only (Debian's kernel, busybox-static,
# the host's Debian qemu-ga and findutils, our NativeAOT agent) booted by qemu-system-x86_64 under
# TCG, with the agent channel on a virtio-serial port whose host side is a unix chardev socket.
# One image holds both agents; the kernel command line picks which one /init runs. Every wait is
# bounded; a VM is stopped by its own pid.

Set-StrictMode -Version 3.0

$script:RepoRoot = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
$script:CacheRoot = Join-Path $script:RepoRoot 'out/e2e'
$script:PortName = 'org.qemu.guest_agent.0'
# One image per process: the agent is published and the initramfs written once.
$script:ImageCache = @{}

# Loaded by /init in this order. Each module's own 'depends=' must name only modules before it;
# New-E2eImage checks that, so a kernel update that adds a dependency fails with its name.
$script:Modules = @(
    'virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci',
    'virtio_console', 'virtio_blk', 'failover', 'net_failover', 'virtio_net',
    'crc16', 'mbcache', 'jbd2', 'crc32c_generic', 'ext4',
    # virtio-9p, for Start-E2eVm -PowerShell: the host's .NET and pwsh shared read-only.
    'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p'
)

function Invoke-E2eNative {
    param([string] $File, [string[]] $Arguments, [string] $What = $File)
    $out = & $File @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code ${LASTEXITCODE}: $($out -join "`n")" }
    return $out
}

function Get-E2eDebVersion([string] $Name) {
    return (& apt-cache show --no-all-versions $Name 2>$null | Where-Object { $_ -like 'Version: *' } | Select-Object -First 1) -replace '^Version: ', ''
}

function Update-E2eAptLists {
    if ($script:AptUpdated) { return }
    $sudo = if ((& id -u) -eq '0') { @() } else { @('sudo') }
    $cmd = $sudo + @('apt-get', 'update', '-qq')
    $null = Invoke-E2eNative $cmd[0] @($cmd | Select-Object -Skip 1) 'apt-get update'
    $script:AptUpdated = $true
}

function Get-E2eDebPackage {
    <#
    .SYNOPSIS
        Downloads a Debian package with apt-get download and extracts it under out/e2e/debs/<name>_<version>/
        (reused while the version is the same). Returns the extraction folder.
    #>
    param([Parameter(Mandatory)] [string] $Name)
    $version = Get-E2eDebVersion $Name
    if (-not $version) {
        # A machine whose package lists were never fetched (or were cleaned): fetch them once.
        Update-E2eAptLists
        $version = Get-E2eDebVersion $Name
    }
    if (-not $version) { throw "E2eDebPackageUnknown: apt-cache knows no package '$Name' after apt-get update" }
    $key = "${Name}_$($version -replace '[^A-Za-z0-9.+~-]', '_')"
    $dir = Join-Path $script:CacheRoot "debs/$key"
    if (Test-Path (Join-Path $dir '.complete')) { return $dir }
    $dl = Join-Path $script:CacheRoot "debs/download-$PID"
    $null = New-Item -ItemType Directory -Force -Path $dl
    try {
        Push-Location $dl
        try { $null = Invoke-E2eNative 'apt-get' @('download', '-q', "$Name=$version") "apt-get download $Name=$version" }
        finally { Pop-Location }
        $deb = Get-ChildItem $dl -Filter '*.deb' | Select-Object -First 1
        if (-not $deb) { throw "E2eDebPackageMissing: apt-get download $Name=$version produced no .deb" }
        if (Test-Path $dir) { Remove-Item -Recurse -Force $dir }
        $null = New-Item -ItemType Directory -Force -Path $dir
        $null = Invoke-E2eNative 'dpkg-deb' @('-x', $deb.FullName, $dir) "dpkg-deb -x $($deb.Name)"
        Set-Content (Join-Path $dir '.complete') $version
    }
    finally { Remove-Item -Recurse -Force $dl -ErrorAction SilentlyContinue }
    return $dir
}

function Get-E2eKernelPackageName {
    # linux-image-amd64 is a metapackage; the kernel is in the versioned package it depends on.
    $dep = & apt-cache depends linux-image-amd64 2>$null | Where-Object { $_ -match 'Depends: (linux-image-[0-9][^ ]*-amd64)$' } | Select-Object -First 1
    if (-not $dep) {
        Update-E2eAptLists
        $dep = & apt-cache depends linux-image-amd64 2>$null | Where-Object { $_ -match 'Depends: (linux-image-[0-9][^ ]*-amd64)$' } | Select-Object -First 1
    }
    if (-not $dep -or $dep -notmatch 'Depends: (linux-image-\S+)') { throw 'E2eKernelPackageUnknown: linux-image-amd64 depends on no versioned linux-image-*-amd64 package (run apt-get update)' }
    return $Matches[1]
}

function Export-E2eVmlinux {
    <#
    .SYNOPSIS
        Extracts the uncompressed ELF vmlinux from a bzImage (xz payload). QEMU boots it directly
        through its PVH entry point, skipping the real-mode setup and in-guest decompression.
    #>
    param([string] $BzImage, [string] $Destination)
    $bytes = [IO.File]::ReadAllBytes($BzImage)
    $magic = [byte[]] (0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00)
    $at = -1
    $i = [Array]::IndexOf($bytes, [byte] 0xFD)
    while ($i -ge 0 -and $i -le $bytes.Length - $magic.Length) {
        $match = $true
        for ($j = 1; $j -lt $magic.Length; $j++) { if ($bytes[$i + $j] -ne $magic[$j]) { $match = $false; break } }
        if ($match) { $at = $i; break }
        $i = [Array]::IndexOf($bytes, [byte] 0xFD, $i + 1)
    }
    if ($at -lt 0) { throw "E2eKernelFormat: no xz payload in $BzImage (the kernel is compressed differently; boot the bzImage instead)" }
    $payload = "$Destination.xz"
    $out = [IO.File]::Create($payload)
    try { $out.Write($bytes, $at, $bytes.Length - $at) } finally { $out.Dispose() }
    try {
        # The bzImage carries trailing data after the xz stream: decode only the first stream.
        & sh -c "xz -dc --single-stream '$payload' > '$Destination.tmp'"
        if ($LASTEXITCODE -ne 0) { throw "E2eKernelFormat: xz could not decompress the payload of $BzImage" }
    }
    finally { Remove-Item $payload -ErrorAction SilentlyContinue }
    $head = [byte[]]::new(4)
    $fs = [IO.File]::OpenRead("$Destination.tmp"); try { $null = $fs.Read($head, 0, 4) } finally { $fs.Dispose() }
    if ($head[0] -ne 0x7F -or $head[1] -ne 0x45) { throw "E2eKernelFormat: the payload of $BzImage is not an ELF file" }
    Move-Item -Force "$Destination.tmp" $Destination
}

# --- newc cpio writer: the initramfs, with no cpio binary needed on the host -----------------
function New-CpioWriter([string] $Path) {
    [pscustomobject]@{ Stream = [IO.File]::Create($Path); Ino = 1; Names = [Collections.Generic.HashSet[string]]::new() }
}

function Write-CpioEntry($W, [string] $Name, [int] $Mode, [long] $Size, [int] $RdevMajor = 0, [int] $RdevMinor = 0) {
    if (-not $W.Names.Add($Name)) { throw "E2eImageDuplicate: '$Name' added to the initramfs twice" }
    $nameBytes = [Text.Encoding]::UTF8.GetBytes($Name + "`0")
    $fields = @($W.Ino++, $Mode, 0, 0, 1, 0, $Size, 0, 0, $RdevMajor, $RdevMinor, $nameBytes.Length, 0)
    $header = '070701' + (($fields | ForEach-Object { '{0:X8}' -f [long] $_ }) -join '')
    $h = [Text.Encoding]::ASCII.GetBytes($header)
    $W.Stream.Write($h, 0, $h.Length)
    $W.Stream.Write($nameBytes, 0, $nameBytes.Length)
    Write-CpioPad $W
}

function Write-CpioPad($W) {
    $pad = (4 - ($W.Stream.Position % 4)) % 4
    if ($pad) { $W.Stream.Write([byte[]]::new($pad), 0, $pad) }
}

function Add-CpioDirectory($W, [string] $Name) { Write-CpioEntry $W $Name 0x41ED 0 }

function Add-CpioSymlink($W, [string] $Name, [string] $Target) {
    $t = [Text.Encoding]::UTF8.GetBytes($Target)
    Write-CpioEntry $W $Name 0xA1FF $t.Length
    $W.Stream.Write($t, 0, $t.Length); Write-CpioPad $W
}

function Add-CpioCharDevice($W, [string] $Name, [int] $Major, [int] $Minor) { Write-CpioEntry $W $Name 0x2180 0 $Major $Minor }

function Add-CpioBytes($W, [string] $Name, [byte[]] $Bytes, [int] $Mode = 0x81A4) {
    Write-CpioEntry $W $Name $Mode $Bytes.Length
    $W.Stream.Write($Bytes, 0, $Bytes.Length); Write-CpioPad $W
}

function Add-CpioText($W, [string] $Name, [string] $Text, [int] $Mode = 0x81A4) {
    Add-CpioBytes $W $Name ([Text.Encoding]::UTF8.GetBytes($Text.Replace("`r`n", "`n"))) $Mode
}

function Add-CpioFile($W, [string] $Name, [string] $Source, [int] $Mode = 0x81ED) {
    $info = Get-Item -LiteralPath $Source
    # Only a symbolic link is followed: LinkType is also 'HardLink' for any file with more than one
    # name (perf's ~/.debug build-id cache hard-links libc.so.6), and a hard link has no target.
    if ($info.LinkType -eq 'SymbolicLink') { $info = Get-Item -LiteralPath ($info.ResolveLinkTarget($true).FullName) }
    Write-CpioEntry $W $Name $Mode $info.Length
    $in = [IO.File]::OpenRead($info.FullName)
    try { $in.CopyTo($W.Stream) } finally { $in.Dispose() }
    Write-CpioPad $W
}

function Close-CpioWriter($W) {
    Write-CpioEntry $W 'TRAILER!!!' 0 0
    $W.Stream.Dispose()
}

function Get-E2eSharedLibraries {
    # The libraries a dynamically linked host binary loads, as ldd resolves them (absolute paths).
    param([string[]] $Binaries)
    $libs = [Collections.Generic.SortedSet[string]]::new([StringComparer]::Ordinal)
    foreach ($b in $Binaries) {
        if ($b -like '*.so*') { $null = $libs.Add($b) }
        $lines = Invoke-E2eNative 'ldd' @($b) "ldd $b"
        foreach ($line in $lines) {
            if ("$line" -match '=> (/\S+)') { $null = $libs.Add($Matches[1]) }
            elseif ("$line" -match '^\s*(/\S+) \(') { $null = $libs.Add($Matches[1]) }
            elseif ("$line" -match 'not found') { throw "E2eLibraryMissing: ${b}: $line" }
        }
    }
    return @($libs)
}

function Get-E2eDotnetRoot {
    # The folder of the host's dotnet host (the shared frameworks are under it).
    $dotnet = Get-Command dotnet -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $dotnet) { throw 'E2eDotnetMissing: dotnet is not on PATH' }
    Split-Path (& readlink -f $dotnet.Source) -Parent
}

function Get-E2eDotnetNativeBinaries {
    # .NET's native parts pwsh loads in the guest (through the 9p share), for their libraries:
    # the host, hostfxr, and the runtime's own .so files but the tracing provider (LTTng,
    # optional) and the debugger's.
    $root = Get-E2eDotnetRoot
    $runtime = Get-ChildItem -Directory (Join-Path $root 'shared/Microsoft.NETCore.App') | Sort-Object { [version]($_.Name -replace '-.*$', '') } | Select-Object -Last 1
    if (-not $runtime) { throw "E2eDotnetMissing: no Microsoft.NETCore.App under $root/shared" }
    Join-Path $root 'dotnet'
    Get-ChildItem -File (Join-Path $root 'host/fxr') -Recurse -Filter 'libhostfxr.so' | ForEach-Object FullName
    Get-ChildItem -File $runtime.FullName -Filter '*.so' | Where-Object Name -NotIn 'libcoreclrtraceptprovider.so', 'libmscordaccore.so', 'libmscordbi.so' | ForEach-Object FullName
}

function Get-E2eAgentBinary {
    <#
    .SYNOPSIS
        Publishes our agent with NativeAOT for linux-x64 into out/e2e/agent and returns the binary's path.
    #>
    param([ValidateSet('Debug', 'Release')] [string] $Configuration = 'Release')
    $out = Join-Path $script:CacheRoot 'agent'
    $proj = Join-Path $script:RepoRoot 'src/QemuGuest.Agent/QemuGuest.Agent.csproj'
    $null = Invoke-E2eNative 'dotnet' @('publish', $proj, '-c', $Configuration, '-r', 'linux-x64', '-o', $out, '--nologo', '-v', 'q', '-clp:ErrorsOnly') 'dotnet publish (NativeAOT agent)'
    $bin = Join-Path $out 'qemuguest-agent'
    if (-not (Test-Path $bin)) { throw "E2eAgentMissing: dotnet publish produced no $bin" }
    return $bin
}

function Get-E2eInitScript {
    # /init: PID 1 of the guest. No udev: it loads the virtio modules, names the virtio-serial
    # port itself, and keeps the chosen agent running (a killed agent is restarted, so clients
    # can be tested re-syncing). qg.agent=ours|stock|raw on the kernel command line picks it.
    param([string[]] $Modules)
    @"
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /dev/pts /dev/virtio-ports /run/qga
log() { echo "e2e-init: `$(cut -d" " -f1 /proc/uptime) `$*" > /dev/console; }
for m in $($Modules -join ' '); do insmod /lib/modules/`$m.ko || log "insmod `$m failed"; done
hostname qg-e2e
ip link set lo up
if ip link set eth0 up 2>/dev/null; then ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2; fi

# The port appears once virtio_console has probed; devtmpfs creates /dev/vportNpM, and the
# stable name (what udev would link) is in sysfs. Bounded: 10 s.
port=/dev/virtio-ports/$($script:PortName)
i=0
while [ ! -e "`$port" ] && [ `$i -lt 100 ]; do
    for p in /sys/class/virtio-ports/*; do
        [ -f "`$p/name" ] || continue
        n=`$(cat "`$p/name")
        [ -n "`$n" ] && [ ! -e "/dev/virtio-ports/`$n" ] && ln -s "../`${p##*/}" "/dev/virtio-ports/`$n"
    done
    [ -e "`$port" ] || { sleep 0.1; i=`$((i + 1)); }
done
[ -e "`$port" ] || log "no virtio-serial port named $($script:PortName)"

# Read-only virtio-9p shares of the host named by qg.9p=tag,tag (Start-E2eVm -PowerShell), each on /mnt/<tag>.
for t in `$(sed -n 's/.*qg\.9p=\([a-z0-9_,]*\).*/\1/p' /proc/cmdline | tr , ' '); do
    mkdir -p "/mnt/`$t"
    mount -t 9p -o trans=virtio,version=9p2000.L,ro "`$t" "/mnt/`$t" || log "9p share `$t not mounted"
done

# A scratch ext4 volume on the virtio disk, for guest-get-fsinfo and copies onto a real block device.
mkdir -p /mnt/data
if [ -b /dev/vda ]; then mke2fs -q -F /dev/vda >/dev/null 2>&1 && mount -t ext4 /dev/vda /mnt/data || log "no /mnt/data"; fi

agent=`$(sed -n 's/.*qg\.agent=\([a-z]*\).*/\1/p' /proc/cmdline)
case "`$agent" in
    ours) cmd="/usr/local/bin/qemuguest-agent -m virtio-serial -p `$port -t /run/qga" ;;
    stock) cmd="/usr/sbin/qemu-ga -m virtio-serial -p `$port -t /run/qga" ;;
    raw)
        # The port's own ceiling, no agent: the host sends N bytes, the guest counts them and
        # answers; then the guest sends N bytes. The host sends one start byte first.
        n=`$(sed -n 's/.*qg\.rawbytes=\([0-9]*\).*/\1/p' /proc/cmdline)
        exec 3<>"`$port"
        log "raw: ready"
        # Reads see end-of-file until the host side connects: wait (at most 600 s) for the
        # host's one start byte, then count N bytes.
        i=0
        while [ `$i -lt 6000 ]; do
            # dd bs=1 reads exactly one byte; head may read ahead and swallow the data behind it.
            dd bs=1 count=1 <&3 > /run/raw.start 2>/dev/null
            [ -s /run/raw.start ] && break
            sleep 0.1; i=`$((i + 1))
        done
        # dd with 64 KiB blocks: few syscalls, which is what costs under TCG (N is a multiple of 1 MiB).
        dd bs=65536 count=`$((n / 65536)) iflag=fullblock of=/dev/null <&3 2>/run/raw.count
        full=`$(sed -n 's/^\([0-9]*\)+.*records in.*/\1/p' /run/raw.count)
        echo "got `$((full * 65536))" >&3
        dd if=/dev/zero bs=65536 count=`$((n / 65536)) 2>/dev/null >&3
        log "raw: done"
        exec 3>&-
        while :; do sleep 3600; done ;;
    *) log "unknown qg.agent='`$agent'"; poweroff -f ;;
esac
log "agent: `$agent"
restarts=0
while :; do
    `$cmd &
    echo `$! > /run/agent.pid
    echo `$restarts > /run/agent.restarts
    log "agent `$restarts started (pid `$!)"
    wait `$!
    log "agent exited with `$?, restarting"
    restarts=`$((restarts + 1))
    sleep 0.2
done
"@
}

function New-E2eImage {
    <#
    .SYNOPSIS
        Builds (or reuses) the guest image: an uncompressed vmlinux and an uncompressed initramfs
        holding busybox, the virtio modules, /init, our agent and Debian's qemu-ga.
    .OUTPUTS
        An object with Kernel, Initrd, KernelVersion and the package versions used.
    #>
    param(
        [string] $AgentBinary,
        [ValidateSet('Debug', 'Release')] [string] $Configuration = 'Release',
        # The compressed bzImage instead of the extracted vmlinux (slower to boot; for comparison).
        [switch] $BzImage
    )
    $cacheKey = "$AgentBinary|$Configuration|$BzImage"
    if ($script:ImageCache.ContainsKey($cacheKey)) { return $script:ImageCache[$cacheKey] }
    if (-not $AgentBinary) { $AgentBinary = Get-E2eAgentBinary -Configuration $Configuration }
    foreach ($tool in 'apt-get', 'dpkg-deb', 'ldd', 'xz') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "E2eToolMissing: '$tool' is not on PATH" }
    }
    $stockAgent = '/usr/sbin/qemu-ga'
    $gnuFind = '/usr/bin/find'
    foreach ($f in $stockAgent, $gnuFind) { if (-not (Test-Path $f)) { throw "E2eHostFileMissing: $f (apt-get install qemu-guest-agent findutils)" } }

    $kernelPkg = Get-E2eKernelPackageName
    $kernelDir = Get-E2eDebPackage $kernelPkg
    $busyboxDir = Get-E2eDebPackage 'busybox-static'
    $kver = $kernelPkg -replace '^linux-image-', ''
    $modRoot = Join-Path $kernelDir "lib/modules/$kver"
    $bz = Join-Path $kernelDir "boot/vmlinuz-$kver"
    if (-not (Test-Path $bz)) { throw "E2eKernelMissing: $bz not in $kernelPkg" }
    $kernel = $bz
    if (-not $BzImage) {
        $kernel = Join-Path $kernelDir "boot/vmlinux-$kver"
        if (-not (Test-Path $kernel)) { Export-E2eVmlinux $bz $kernel }
    }

    $imageDir = Join-Path $script:CacheRoot 'image'
    $null = New-Item -ItemType Directory -Force -Path $imageDir
    $initrd = Join-Path $imageDir "initramfs-$PID.cpio"
    $w = New-CpioWriter $initrd
    try {
        foreach ($d in 'bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'usr/local', 'usr/local/bin', 'lib', 'lib/modules',
            'lib64', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'mnt', 'root', 'var', 'usr/lib', 'usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu') {
            Add-CpioDirectory $w $d
        }
        # The kernel opens /dev/console before /init runs: it must exist in the archive.
        Add-CpioCharDevice $w 'dev/console' 5 1
        Add-CpioSymlink $w 'var/run' '../run'
        Add-CpioFile $w 'bin/busybox' (Join-Path $busyboxDir 'bin/busybox')
        Add-CpioText $w 'init' (Get-E2eInitScript $script:Modules) 0x81ED

        # qemu-ga and our agent run /sbin/shutdown -P|-H|-r +0 for guest-shutdown. No init
        # system here: power off (or reboot) directly, after the agent has seen the helper succeed.
        Add-CpioText $w 'sbin/shutdown' @'
#!/bin/sh
case "$1" in -r) act=reboot ;; -H) act=halt ;; *) act=poweroff ;; esac
echo "e2e-init: shutdown $*" > /dev/console
( sleep 0.5; sync; $act -f ) </dev/null >/dev/null 2>&1 &
exit 0
'@ 0x81ED
        Add-CpioText $w 'etc/passwd' "root:x:0:0:root:/root:/bin/sh`n"
        Add-CpioText $w 'etc/group' "root:x:0:`n"
        Add-CpioText $w 'etc/hostname' "qg-e2e`n"
        $osRelease = if (Test-Path /etc/os-release) { Get-Content -Raw /etc/os-release } else { "ID=debian`n" }
        Add-CpioText $w 'etc/os-release' $osRelease

        $loaded = [Collections.Generic.HashSet[string]]::new()
        $available = @{}
        foreach ($f in Get-ChildItem -Path (Join-Path $modRoot 'kernel') -Recurse -File -Filter '*.ko*') { $available[$f.Name] = $f }
        foreach ($m in $script:Modules) {
            $ko = if ($available.ContainsKey("$m.ko")) { $available["$m.ko"] } elseif ($available.ContainsKey("$m.ko.xz")) { $available["$m.ko.xz"] } else { $null }
            if (-not $ko) { throw "E2eModuleMissing: $m.ko(.xz) not in $kernelPkg" }
            $plain = $ko.FullName
            if ($ko.Name.EndsWith('.xz')) {
                # busybox insmod does not decompress: unpack on the host.
                $plain = Join-Path $imageDir "$m.ko"
                & sh -c "xz -dc '$($ko.FullName)' > '$plain'"
                if ($LASTEXITCODE -ne 0) { throw "E2eModuleFormat: xz could not decompress $($ko.FullName)" }
            }
            $text = [Text.Encoding]::ASCII.GetString([IO.File]::ReadAllBytes($plain))
            if ($text -match "`0depends=([A-Za-z0-9_,-]*)`0") {
                foreach ($dep in ($Matches[1] -split ',' | Where-Object { $_ })) {
                    if (-not $loaded.Contains($dep.Replace('-', '_'))) { throw "E2eModuleOrder: $m depends on $dep, which is not loaded before it (kernel $kver)" }
                }
            }
            Add-CpioFile $w "lib/modules/$m.ko" $plain 0x81A4
            if ($plain -ne $ko.FullName) { Remove-Item $plain }
            $null = $loaded.Add($m)
        }

        Add-CpioFile $w 'usr/local/bin/qemuguest-agent' $AgentBinary
        Add-CpioFile $w 'usr/sbin/qemu-ga' $stockAgent
        # Copy-VMGuestFile lists guest folders with GNU find -printf when the agent has no listing
        # command (qemu-ga); busybox find cannot. A Debian guest always has findutils (Essential).
        Add-CpioFile $w 'usr/bin/find' $gnuFind
        # PowerShell is not in the image: Start-E2eVm -PowerShell shares the host's .NET (tag
        # dotnet) and this pwsh's folder (tag pwsh); the image holds what they load from the
        # guest's own /lib (libstdc++, libgcc_s: ldd of .NET's native parts below). No ICU:
        # invariant globalization.
        Add-CpioText $w 'usr/local/bin/pwsh' @'
#!/bin/sh
if [ ! -x /mnt/dotnet/dotnet ] || [ ! -f /mnt/pwsh/pwsh.dll ]; then
    echo "pwsh: the host's PowerShell is not shared into this VM (Start-E2eVm -PowerShell)" >&2
    exit 127
fi
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 HOME=/root
exec /mnt/dotnet/dotnet /mnt/pwsh/pwsh.dll "$@"
'@ 0x81ED
        # Not in ldd's list: .NET loads OpenSSL with dlopen (our agent's SHA-256 for file
        # hashes); without it the agent process aborts.
        $dlopened = foreach ($soname in 'libssl.so.3', 'libcrypto.so.3') {
            $line = & ldconfig -p | Where-Object { $_ -match "^\s*$([regex]::Escape($soname)) \(libc6,x86-64\) => (\S+)" } | Select-Object -First 1
            if (-not $line -or $line -notmatch '=> (\S+)') { throw "E2eLibraryMissing: $soname is not installed on the host (apt-get install libssl3)" }
            $Matches[1]
        }
        $dotnetNative = @(Get-E2eDotnetNativeBinaries)
        foreach ($lib in Get-E2eSharedLibraries (@($AgentBinary, $stockAgent, $gnuFind) + $dlopened + $dotnetNative)) {
            # .NET's own parts come from the share, not the image.
            if ($lib -in $dotnetNative) { continue }
            $name = $lib.TrimStart('/')
            $dir = Split-Path $name -Parent
            if ($dir -notin 'lib64', 'lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu') { throw "E2eLibraryPath: $lib is outside the folders the initramfs has" }
            Add-CpioFile $w $name $lib 0x81ED
        }
    }
    finally { Close-CpioWriter $w }
    $final = Join-Path $imageDir 'initramfs.cpio'
    Move-Item -Force $initrd $final

    $image = [pscustomobject]@{
        Kernel        = $kernel
        Initrd        = $final
        KernelPackage = $kernelPkg
        Busybox       = (Get-Content (Join-Path $busyboxDir '.complete'))
        AgentBinary   = $AgentBinary
        StockAgent    = ((& $stockAgent -V 2>&1 | Select-Object -First 1) -replace '.*version\s*', '').Trim()
    }
    $script:ImageCache[$cacheKey] = $image
    return $image
}

function Send-E2eSync {
    # One 0xFF + guest-sync-delimited on a connected socket; true when the matching reply arrives
    # within the timeout. 0xFF first resets the agent's parser (whatever an earlier client left).
    param([Net.Sockets.Socket] $Socket, [int] $TimeoutMs)
    $id = [Random]::Shared.Next(1, [int]::MaxValue)
    $req = [byte[]] @(0xFF) + [Text.Encoding]::ASCII.GetBytes("{`"execute`":`"guest-sync-delimited`",`"arguments`":{`"id`":$id}}`n")
    $null = $Socket.Send($req)
    $buf = [byte[]]::new(4096)
    $text = [Text.StringBuilder]::new()
    $deadline = [DateTime]::UtcNow.AddMilliseconds($TimeoutMs)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (-not $Socket.Poll(100000, [Net.Sockets.SelectMode]::SelectRead)) { continue }
        $n = $Socket.Receive($buf)
        if ($n -le 0) { return $false }
        $null = $text.Append([Text.Encoding]::Latin1.GetString($buf, 0, $n))
        if ($text.Length -gt 65536) { $null = $text.Remove(0, $text.Length - 4096) }
        if ($text.ToString() -match "`"return`":\s*$id\b") { return $true }
    }
    return $false
}

function Start-E2eQemu {
    # Starts qemu-system-x86_64 with the given arguments plus what differs per process: its
    # serial console file, pid file, output files and (with -Control) the test's own QMP
    # monitor, all named after $Tag in $Dir. exec: the process started here becomes qemu
    # itself, so its pid is the VM's pid.
    param([string] $Dir, [string[]] $Arguments, [string] $Tag, [string] $Console, [switch] $Control, [string[]] $Extra = @())
    $qemu = Get-Command qemu-system-x86_64 -ErrorAction SilentlyContinue
    if (-not $qemu) { throw 'E2eQemuMissing: qemu-system-x86_64 is not on PATH (apt-get install --no-install-recommends qemu-system-x86)' }
    $all = @($Arguments) + @('-serial', "file:$Console", '-pidfile', "$Dir/$Tag.pid") + $Extra
    if ($Control) { $all += '-qmp', "unix:$Dir/$Tag.ctl.sock,server=on,wait=off" }
    $quoted = ($all | ForEach-Object { "'" + ($_ -replace "'", "'\''") + "'" }) -join ' '
    $psi = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
    foreach ($a in '-c', "exec '$($qemu.Source)' $quoted 2>'$Dir/$Tag.err' >'$Dir/$Tag.out' </dev/null") { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    return [Diagnostics.Process]::Start($psi)
}

function Start-E2eVm {
    <#
    .SYNOPSIS
        Boots the e2e image under TCG and waits (bounded) until the agent answers a sync on the
        chardev socket. Returns Pid, Socket, ConnectionString, ConsoleLog, BootSeconds, ...
    .PARAMETER Agent
        Ours, Stock (Debian's qemu-ga) or Raw (no agent: the port's ceiling, see Get-E2eInitScript).
    #>
    param(
        [Parameter(Mandatory)] $Image,
        [ValidateSet('Ours', 'Stock', 'Raw')] [string] $Agent = 'Ours',
        [ValidateRange(128, 4096)] [int] $MemoryMiB = 512,
        [ValidateRange(1, 4)] [int] $Cpus = 1,
        [ValidateRange(5, 600)] [int] $BootTimeoutSec = 120,
        [long] $RawBytes = 0,
        [string] $Name = 'e2e',
        # Two QMP monitors: qmp.sock for the relay (-Qmp of Start-E2eRelay) and ctl.sock for the
        # test itself (a QMP socket serves one client at a time).
        [switch] $Qmp,
        # 'max' gives the guest every feature TCG has; a VM that migrates needs a named model
        # (QEMU documents max as not migration-safe; see tests/e2e/Migration.Tests.ps1).
        [string] $Cpu = 'max',
        # Share the host's .NET and this pwsh's folder read-only (virtio-9p) on /mnt/dotnet and
        # /mnt/pwsh, for the image's /usr/local/bin/pwsh launcher.
        [switch] $PowerShell
    )
    $dir = Join-Path ([IO.Path]::GetTempPath()) ("qg-e2e-$Name-" + [guid]::NewGuid().ToString('n').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path $dir
    $sock = Join-Path $dir 'qga.sock'
    $console = Join-Path $dir 'console.log'
    $disk = Join-Path $dir 'disk.img'
    # Sparse: the guest formats it at boot.
    $fs = [IO.File]::Create($disk); try { $fs.SetLength(64MB) } finally { $fs.Dispose() }

    # no_timer_check: on a loaded host the emulated timer can miss the kernel's IO-APIC check at
    # boot ("Kernel panic - not syncing: IO-APIC + timer doesn't work!", the vm bench at load 60).
    $append = "console=ttyS0 quiet loglevel=3 panic=-1 no_timer_check qg.agent=$($Agent.ToLowerInvariant()) qg.rawbytes=$RawBytes"
    $shares = @()
    if ($PowerShell) {
        $append += ' qg.9p=dotnet,pwsh'
        foreach ($share in @(@{ Tag = 'dotnet'; Path = (Get-E2eDotnetRoot) }, @{ Tag = 'pwsh'; Path = $PSHOME })) {
            # QEMU's option syntax: a comma in a value is written twice.
            $shares += '-virtfs', "local,path=$($share.Path.Replace(',', ',,')),mount_tag=$($share.Tag),security_model=none,readonly=on"
        }
    }
    $qemuArgs = @(
        '-machine', 'pc,accel=tcg', '-cpu', $Cpu, '-smp', "$Cpus", '-m', "$MemoryMiB",
        '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
        '-kernel', $Image.Kernel, '-initrd', $Image.Initrd, '-append', $append,
        '-device', 'virtio-serial-pci,id=vser0',
        '-chardev', "socket,path=$sock,server=on,wait=off,id=qga0",
        '-device', "virtserialport,bus=vser0.0,chardev=qga0,name=$($script:PortName),id=qgaport0",
        '-drive', "file=$disk,format=raw,if=virtio",
        '-nic', 'user,model=virtio-net-pci'
    )
    $qemuArgs += $shares
    if ($Qmp) { $qemuArgs += '-qmp', "unix:$dir/qmp.sock,server=on,wait=off" }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $proc = Start-E2eQemu $dir $qemuArgs 'qemu' -Console $console -Control:$Qmp
    $vm = [pscustomobject]@{
        Name             = $Name
        Agent            = $Agent
        Process          = $proc
        Pid              = $proc.Id
        Directory        = $dir
        Socket           = $sock
        ConnectionString = "unix:$sock"
        ConsoleLog       = $console
        BootSeconds      = $null
        Arguments        = $qemuArgs
        Qmp              = if ($Qmp) { "$dir/qmp.sock" } else { $null }
        Control          = if ($Qmp) { "$dir/qemu.ctl.sock" } else { $null }
    }
    if ($Agent -eq 'Raw') { return $vm }
    try {
        $deadline = [DateTime]::UtcNow.AddSeconds($BootTimeoutSec)
        $client = $null
        while ($true) {
            if ($proc.HasExited) { throw "E2eVmExited: qemu exited with $($proc.ExitCode) during boot" }
            if ([DateTime]::UtcNow -gt $deadline) { throw "E2eVmBootTimeout: the $Agent agent did not answer guest-sync-delimited within $BootTimeoutSec s" }
            if (-not $client -and (Test-Path $sock)) {
                $client = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
                try { $client.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($sock)) } catch { $client.Dispose(); $client = $null }
            }
            if ($client -and (Send-E2eSync $client 1000)) { break }
            if (-not $client) { Start-Sleep -Milliseconds 50 }
        }
        $client.Dispose()
        $vm.BootSeconds = [math]::Round($clock.Elapsed.TotalSeconds, 2)
        return $vm
    }
    catch {
        $why = $_.Exception.Message
        $tail = (Get-E2eVmConsole $vm) + "`n" + (Get-Content -Raw "$dir/qemu.err" -ErrorAction SilentlyContinue)
        Stop-E2eVm $vm
        throw "$why`n--- console ($console) ---`n$tail"
    }
}

function Start-E2eVmIncoming {
    <#
    .SYNOPSIS
        Starts the destination of a live migration on this host: the source VM's own QEMU command
        line (so the same agent chardev path and relay QMP path, which QEMU re-creates: as on a
        libvirt or Proxmox host, where the destination's sockets are at the paths the source
        had) plus -incoming on a unix socket. The guest does not boot; it runs once the
        migration completes. Returns a VM object whose Migration is the URI to give 'migrate'.
    #>
    param([Parameter(Mandatory)] $Source, [ValidateRange(5, 120)] [int] $ListenTimeoutSec = 60)
    $dir = $Source.Directory
    $uri = "unix:$dir/migrate.sock"
    $console = Join-Path $dir 'console.dst.log'
    $proc = Start-E2eQemu $dir $Source.Arguments 'qemu-dst' -Console $console -Control -Extra @('-incoming', $uri)
    $vm = [pscustomobject]@{
        Name             = $Source.Name
        Agent            = $Source.Agent
        Process          = $proc
        Pid              = $proc.Id
        Directory        = $dir
        Socket           = $Source.Socket
        ConnectionString = $Source.ConnectionString
        ConsoleLog       = $console
        BootSeconds      = $null
        Arguments        = $Source.Arguments
        Qmp              = $Source.Qmp
        Control          = "$dir/qemu-dst.ctl.sock"
        Migration        = $uri
    }
    $deadline = [DateTime]::UtcNow.AddSeconds($ListenTimeoutSec)
    while (-not (Test-Path "$dir/migrate.sock")) {
        if ($proc.HasExited) { throw "E2eVmExited: the destination qemu exited with $($proc.ExitCode): $(Get-Content -Raw "$dir/qemu-dst.err" -ErrorAction SilentlyContinue)" }
        if ([DateTime]::UtcNow -gt $deadline) { Stop-E2eVm $vm -KeepDirectory; throw "E2eVmIncomingTimeout: the destination qemu did not listen on $uri within $ListenTimeoutSec s" }
        Start-Sleep -Milliseconds 100
    }
    return $vm
}

# --- a QMP client for the tests' own monitor ----------------------------------------------------
function Connect-E2eQmp {
    <#
    .SYNOPSIS
        Connects to a QMP monitor socket, reads the greeting and enters command mode
        (qmp_capabilities). Events that arrive between replies are kept in .Events.
    #>
    param([Parameter(Mandatory)] [string] $Path, [ValidateRange(1, 120)] [int] $TimeoutSec = 30)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ($true) {
        $s = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
        try { $s.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($Path)); break }
        catch {
            $s.Dispose()
            if ([DateTime]::UtcNow -gt $deadline) { throw "E2eQmpConnect: ${Path}: $($_.Exception.Message)" }
            Start-Sleep -Milliseconds 100
        }
    }
    $q = [pscustomobject]@{ Socket = $s; Path = $Path; Pending = [Text.StringBuilder]::new(); Events = [Collections.Generic.List[object]]::new() }
    $null = Read-E2eQmpMessage $q $TimeoutSec
    $null = Invoke-E2eQmp $q 'qmp_capabilities'
    return $q
}

function Read-E2eQmpMessage {
    # The next QMP message (one JSON object per line), or a timeout error naming the monitor.
    param($Q, [int] $TimeoutSec)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    $buf = [byte[]]::new(65536)
    while ($true) {
        $text = $Q.Pending.ToString()
        $nl = $text.IndexOf("`n")
        if ($nl -ge 0) {
            $null = $Q.Pending.Remove(0, $nl + 1)
            $line = $text.Substring(0, $nl).Trim()
            if ($line) { return ($line | ConvertFrom-Json -Depth 64) }
            continue
        }
        if ($Q.Pending.Length -gt 16MB) { throw "E2eQmpOversized: $($Q.Path) sent over 16 MiB without a line end" }
        $left = ($deadline - [DateTime]::UtcNow).TotalMilliseconds
        if ($left -le 0) { throw "E2eQmpTimeout: no message from $($Q.Path) within $TimeoutSec s" }
        if (-not $Q.Socket.Poll([int] [math]::Min($left * 1000, 1000000), [Net.Sockets.SelectMode]::SelectRead)) { continue }
        $n = $Q.Socket.Receive($buf)
        if ($n -le 0) { throw "E2eQmpClosed: $($Q.Path) closed the connection" }
        $null = $Q.Pending.Append([Text.Encoding]::UTF8.GetString($buf, 0, $n))
    }
}

function Invoke-E2eQmp {
    <#
    .SYNOPSIS
        Runs one QMP command and returns its 'return' value; a QMP error becomes an exception
        naming the command, class and text.
    #>
    param([Parameter(Mandatory)] $Q, [Parameter(Mandatory)] [string] $Command, [hashtable] $Arguments, [ValidateRange(1, 600)] [int] $TimeoutSec = 30)
    $req = @{ execute = $Command }
    if ($Arguments) { $req.arguments = $Arguments }
    $null = $Q.Socket.Send([Text.Encoding]::UTF8.GetBytes(($req | ConvertTo-Json -Compress -Depth 10) + "`n"))
    while ($true) {
        $m = Read-E2eQmpMessage $Q $TimeoutSec
        if ($m.PSObject.Properties['event']) { $Q.Events.Add($m); continue }
        if ($m.PSObject.Properties['error']) { throw "E2eQmpError: ${Command}: $($m.error.class): $($m.error.desc)" }
        if ($m.PSObject.Properties['return']) { return $m.return }
    }
}

function Close-E2eQmp {
    param($Q)
    if ($Q) { $Q.Socket.Dispose() }
}

function Get-E2eVmConsole {
    # The guest's serial console (kernel messages and /init's), last 60 lines.
    param([Parameter(Mandatory)] $Vm)
    if (-not (Test-Path $Vm.ConsoleLog)) { return '' }
    return (Get-Content $Vm.ConsoleLog -Tail 60 -ErrorAction SilentlyContinue) -join "`n"
}

function Wait-E2eVmExit {
    <#
    .SYNOPSIS
        Waits at most TimeoutSec for the VM's qemu process to exit; returns its exit code or $null.
    #>
    param([Parameter(Mandatory)] $Vm, [ValidateRange(1, 600)] [int] $TimeoutSec = 30)
    if ($Vm.Process.WaitForExit($TimeoutSec * 1000)) { return $Vm.Process.ExitCode }
    return $null
}

function Stop-E2eVm {
    <#
    .SYNOPSIS
        Kills the VM by its pid (qemu holds nothing worth saving here), waits at most 10 s, and
        removes its folder. Safe to call twice, and on a VM that already powered off.
    #>
    param([Parameter(ValueFromPipeline)] $Vm, [switch] $KeepDirectory)
    process {
        if ($null -eq $Vm) { return }
        try {
            if (-not $Vm.Process.HasExited) {
                $Vm.Process.Kill()
                if (-not $Vm.Process.WaitForExit(10000)) { throw "E2eVmStopTimeout: qemu pid $($Vm.Pid) did not exit within 10 s of SIGKILL" }
            }
        }
        finally {
            if (-not $KeepDirectory) { Remove-Item -Recurse -Force $Vm.Directory -ErrorAction SilentlyContinue }
        }
    }
}

function Start-E2eRelay {
    <#
    .SYNOPSIS
        Starts our relay (the built dll) with one VM, named like the VM, whose agent is the VM's
        chardev socket. Waits at most 30 s for its per-VM endpoint. Set $env:QEMUGUEST_RELAY_DIR
        to the returned Directory for -VMName.
    #>
    param([Parameter(Mandatory)] $Vm, [ValidateSet('Debug', 'Release')] [string] $Configuration = 'Release',
        # Also give the relay the VM's QMP monitor (Start-E2eVm -Qmp) and the port's device id.
        [switch] $Qmp)
    $dll = Join-Path $script:RepoRoot "src/QemuGuest.Relay/bin/$Configuration/net10.0/qemuguest-relay.dll"
    if (-not (Test-Path $dll)) { throw "E2eRelayMissing: $dll is not built (dotnet build src/QemuGuest.Relay -c $Configuration)" }
    $dir = Join-Path $Vm.Directory 'relay'
    $endpoint = Join-Path $dir "$($Vm.Name).sock"
    $proc = Start-Process dotnet -PassThru -RedirectStandardOutput (Join-Path $Vm.Directory 'relay.out') -RedirectStandardError (Join-Path $Vm.Directory 'relay.err') `
        -ArgumentList (@($dll, "--Relay:RuntimeDirectory=$dir", "--Relay:Vms:$($Vm.Name):Agent=$($Vm.Socket)") + $(if ($Qmp) { "--Relay:Vms:$($Vm.Name):Qmp=$($Vm.Qmp)", "--Relay:Vms:$($Vm.Name):QmpPort=qgaport0" }))
    $relay = [pscustomobject]@{ Process = $proc; Pid = $proc.Id; Directory = $dir; Endpoint = $endpoint; VMName = $Vm.Name; LogFile = (Join-Path $Vm.Directory 'relay.out'); Control = (Join-Path $dir 'control.sock') }
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while (-not (Test-Path $endpoint)) {
        if ($proc.HasExited -or [DateTime]::UtcNow -gt $deadline) {
            $why = if ($proc.HasExited) { "exited with $($proc.ExitCode)" } else { 'did not create it within 30 s' }
            Stop-E2eRelay $relay
            throw "E2eRelayStart: the relay $why ($endpoint): $(Get-Content -Raw (Join-Path $Vm.Directory 'relay.err') -ErrorAction SilentlyContinue)"
        }
        Start-Sleep -Milliseconds 100
    }
    return $relay
}

function Stop-E2eRelay {
    param([Parameter(ValueFromPipeline)] $Relay)
    process {
        if ($null -eq $Relay -or $Relay.Process.HasExited) { return }
        $Relay.Process.Kill()
        if (-not $Relay.Process.WaitForExit(10000)) { throw "E2eRelayStopTimeout: relay pid $($Relay.Pid) did not exit within 10 s" }
    }
}

function Get-E2eRelayStats {
    <#
    .SYNOPSIS
        relay-stats from the relay's control endpoint: the counters of the one VM it serves.
    #>
    param([Parameter(Mandatory)] $Relay, [ValidateRange(1, 120)] [int] $TimeoutSec = 30)
    $s = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
    try {
        $s.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($Relay.Control))
        $null = $s.Send([Text.Encoding]::ASCII.GetBytes('{"execute":"relay-stats"}'))
        $q = [pscustomobject]@{ Socket = $s; Path = $Relay.Control; Pending = [Text.StringBuilder]::new() }
        $m = Read-E2eQmpMessage $q $TimeoutSec
        if (-not $m.PSObject.Properties['return']) { throw "E2eRelayStats: $($m | ConvertTo-Json -Compress -Depth 10)" }
        return $m.return.vms | Where-Object name -EQ $Relay.VMName
    }
    finally { $s.Dispose() }
}

Export-ModuleMember -Function Start-E2eVmIncoming, Connect-E2eQmp, Invoke-E2eQmp, Close-E2eQmp, Get-E2eRelayStats, Start-E2eRelay, Stop-E2eRelay, New-E2eImage, Get-E2eAgentBinary, Start-E2eVm, Stop-E2eVm, Wait-E2eVmExit, Get-E2eVmConsole, Get-E2eDebPackage
