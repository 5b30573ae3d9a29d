// Guest-side probe, one phase per run so the host can charge QEMU's CPU seconds to it:
// hw|sw N: CRC32C of N MiB with the SSE4.2 instruction | slicing by 8 (the agent's two paths);
// tmpfs N: N MiB written to /tmp in 1 MiB writes; none: nothing (the exec's own cost).
#include <nmmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
static uint32_t T[8][256];
static void build(void){for(int i=0;i<256;i++){uint32_t c=i;for(int k=0;k<8;k++)c=c&1?(c>>1)^0x82F63B78u:c>>1;T[0][i]=c;}
 for(int i=0;i<256;i++)for(int s=1;s<8;s++)T[s][i]=(T[s-1][i]>>8)^T[0][T[s-1][i]&0xFF];}
__attribute__((target("sse4.2"))) static uint32_t hw(const uint8_t*p,size_t n){uint64_t c=0xFFFFFFFF;for(;n>=8;n-=8,p+=8){uint64_t v;memcpy(&v,p,8);c=_mm_crc32_u64(c,v);}uint32_t r=c;for(;n;n--)r=_mm_crc32_u8(r,*p++);return ~r;}
static uint32_t sw(const uint8_t*p,size_t n){uint32_t c=0xFFFFFFFF;for(;n>=8;n-=8,p+=8){uint32_t one,two;memcpy(&one,p,4);memcpy(&two,p+4,4);one^=c;
 c=T[7][one&0xFF]^T[6][(one>>8)&0xFF]^T[5][(one>>16)&0xFF]^T[4][one>>24]^T[3][two&0xFF]^T[2][(two>>8)&0xFF]^T[1][(two>>16)&0xFF]^T[0][two>>24];}
 for(;n;n--)c=T[0][(c^*p++)&0xFF]^(c>>8);return ~c;}
int main(int argc,char**argv){const char*m=argv[1];size_t mib=atoi(argv[2]);size_t n=1<<20;uint8_t*b=malloc(n);for(size_t i=0;i<n;i++)b[i]=(uint8_t)(i*2654435761u>>13);build();
 uint32_t x=0;
 if(!strcmp(m,"hw"))for(size_t i=0;i<mib;i++){b[i]++;__asm__ volatile("":::"memory");x^=hw(b,n);}
 else if(!strcmp(m,"sw"))for(size_t i=0;i<mib;i++){b[i]++;__asm__ volatile("":::"memory");x^=sw(b,n);}
 else if(!strcmp(m,"tmpfs")){int fd=open("/tmp/probe.bin",O_WRONLY|O_CREAT|O_TRUNC,0600);for(size_t i=0;i<mib;i++)if(write(fd,b,n)!=(ssize_t)n)return 2;close(fd);unlink("/tmp/probe.bin");}
 printf("%s %zu x=%u\n",m,mib,x);return 0;}
